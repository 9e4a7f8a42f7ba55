"""The ``axhub`` command: serve, token, plugins, db, vault, sandbox."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from .config import Config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import create_app

    overrides = {"public_url": os.environ.get("AXHUB_PUBLIC_URL") or f"http://{args.host}:{args.port}"}
    if args.sandbox:
        overrides["sandbox"] = True
    config = Config.from_env(**overrides)
    logging.basicConfig(level=os.environ.get("AXHUB_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; provider URLs are ours to log, not its.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(config)
    print(f"axhub on {config.public_url} — database {config.database_url.split('://')[0]}, "
          f"{'sandbox providers' if config.sandbox else 'real providers'}, data in {config.data_dir}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _token(args: argparse.Namespace) -> int:
    from .auth import create_token

    config = Config.from_env()
    print(
        create_token(
            config.jwt_secret,
            org=args.org,
            role=args.role,
            user=args.user,
            name=args.name,
            email=args.email,
            ttl=args.ttl,
        )
    )
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .plugins import PluginManager

    records = PluginManager(Config.from_env()).records.values()
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    rows = [("NAME", "VERSION", "TYPE", "STATUS", "HOOKS / ERROR")]
    for r in records:
        rows.append((r.name, r.version or "-", r.info.type if r.info else "-", r.status,
                     ", ".join(r.hooks) if r.status == "loaded" else (r.error or "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from .db import Database

    async def run() -> None:
        db = Database(Config.from_env().database_url)
        try:
            await db.upgrade(args.revision)
        finally:
            await db.dispose()

    asyncio.run(run())
    print(f"database at {args.revision}")
    return 0


def _vault_rotate(args: argparse.Namespace) -> int:
    from .db import Database
    from .vault import Cipher, Vault

    async def run() -> int:
        config = Config.from_env()
        db = Database(config.database_url)
        try:
            return await Vault(db, Cipher(config.vault_keys), config.refresh_margin).rotate_all()
        finally:
            await db.dispose()

    print(f"re-encrypted {asyncio.run(run())} credentials with the first key of AXHUB_VAULT_KEYS")
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from .api.app import sandbox_app

    print(f"provider sandboxes on http://{args.host}:{args.port}/<provider>", flush=True)
    uvicorn.run(sandbox_app(Config.from_env()), host=args.host, port=args.port, log_level="warning")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axhub", description="Attendance-X integration hub")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub's HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--sandbox", action="store_true", help="point every plugin at its sandbox, served by this hub")
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="bearer tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="print a Bearer token for an identity")
    create.add_argument("--org", required=True)
    create.add_argument("--role", required=True, choices=["member", "manager", "admin"])
    create.add_argument("--user", default="operator")
    create.add_argument("--name")
    create.add_argument("--email")
    create.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    create.set_defaults(func=_token)

    plugins = sub.add_parser("plugins", help="list plugins: version, type, status, hooks")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=_plugins)

    db = sub.add_parser("db", help="database")
    dsub = db.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="apply migrations (Alembic)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)

    vault = sub.add_parser("vault", help="credential vault")
    vsub = vault.add_subparsers(dest="vault_command", required=True)
    rot = vsub.add_parser("rotate", help="re-encrypt every credential with the first key of AXHUB_VAULT_KEYS")
    rot.set_defaults(func=_vault_rotate)

    sandbox = sub.add_parser("sandbox", help="serve only the providers' sandboxes (for several hub processes)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.set_defaults(func=_sandbox)
    return p


def main(argv: list[str] | None = None) -> int:
    import warnings

    # authlib 1.9 nags about its successors (joserfc, httpx2) on import; operators can do
    # nothing about it, so the CLI keeps it out of their terminal.
    warnings.filterwarnings("ignore", message=r".*(deprecated|httpx2).*", module=r"authlib.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"authlib.*")
    try:
        from authlib.deprecate import AuthlibDeprecationWarning

        warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    except ImportError:
        pass
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
