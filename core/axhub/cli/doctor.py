"""``axhub doctor``: checks what a hub needs before it serves — configuration, the
providers it uses (real or sandboxes), the database, its migrations, the plugins, the
vault key, the public URL and push — and says for each problem what to do about it. Exit 0
when nothing failed (warnings included), 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from ..config import Config

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Finding:
    level: str
    check: str
    detail: str
    fix: str = ""


def _configuration() -> tuple[Config | None, list[Finding]]:
    try:
        config = Config.from_env()
    except (ValueError, OSError) as exc:  # a number that is not one, a data folder it cannot create
        return None, [Finding(FAIL, "configuration", f"cannot be read: {exc}",
                              "correct the AXHUB_* variable named above (docs/operations.md lists them)")]
    found = [Finding(OK, "configuration", f"data folder {config.data_dir}")]
    if config.scheduler_store not in ("auto", "memory", "database"):
        found.append(Finding(FAIL, "configuration", f"AXHUB_SCHEDULER_STORE={config.scheduler_store!r}",
                             "set it to auto, memory or database"))
    if config.sandbox:
        base = config.sandbox_url or f"{config.public_url}/sandbox"
        found.append(Finding(OK, "providers", f"sandboxes at {base} (sandbox mode, from {config.sandbox_source})"))
    else:
        found.append(Finding(OK, "providers", "the real providers (no sandbox mode recorded or set)"))
    return config, found


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _database(config: Config) -> list[Finding]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import select, text

    from ..db import Credential, Database
    from ..db.engine import alembic_config
    from ..vault import Cipher

    found: list[Finding] = []
    db = Database(config.database_url)
    try:
        try:
            async with db.engine.connect() as c:
                await c.execute(text("SELECT 1"))
                current = await c.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        except Exception as exc:  # noqa: BLE001 - whatever the driver says is the diagnosis
            return [Finding(FAIL, "database", f"{_shown(config.database_url)}: {type(exc).__name__}: {exc}".strip()[:300],
                            "check AXHUB_DATABASE_URL and that the database server runs and lets this user in")]
        found.append(Finding(OK, "database", _shown(config.database_url)))
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        if current != head:
            found.append(Finding(FAIL, "migrations", f"at {current or 'none (empty database)'}, the code needs {head}",
                                 "run `axhub db upgrade` (serve does it at start unless AXHUB_AUTO_MIGRATE=0)"))
            return found
        found.append(Finding(OK, "migrations", f"at {head} (the latest)"))
        try:
            cipher = Cipher(config.vault_keys)
        except ValueError as exc:
            found.append(Finding(FAIL, "vault key", f"not a Fernet key: {exc}",
                                 "AXHUB_VAULT_KEYS takes comma-separated Fernet keys, newest first (docs/operations.md, Secrets)"))
            return found
        async with db.session() as s:
            sealed = await s.scalar(select(Credential.ciphertext).order_by(Credential.updated_at.desc()).limit(1))
        if sealed is None:
            found.append(Finding(OK, "vault key", f"{len(config.vault_keys)} key(s); no stored credentials to open yet"))
        else:
            try:
                cipher.open(sealed)
                found.append(Finding(OK, "vault key", f"{len(config.vault_keys)} key(s); opens the stored credentials"))
            except RuntimeError:
                found.append(Finding(FAIL, "vault key", "the stored credentials cannot be decrypted with the configured keys",
                                     "restore the vault.key of this data folder, or list the old key in AXHUB_VAULT_KEYS "
                                     "(new,old); otherwise every integration must reconnect"))
    finally:
        await db.dispose()
    return found


def _plugins(config: Config) -> list[Finding]:
    from ..plugins import PluginManager

    records = list(PluginManager(config).records.values())
    found = [Finding(FAIL, f"plugin {r.name}", f"broken: {r.error}",
                     f"reinstall it, or start without it: AXHUB_DISABLE_PLUGINS={r.name}")
             for r in records if r.status == "broken"]
    loaded = [r.name for r in records if r.status == "loaded"]
    if loaded:
        found.insert(0, Finding(OK, "plugins", f"{len(loaded)} loaded: {', '.join(loaded)}"))
    else:
        found.insert(0, Finding(WARN, "plugins", "none loaded: no provider can be connected",
                                "install a provider plugin (pip install axhub-google …) or check AXHUB_PLUGINS"))
    return found


def _public_url(config: Config) -> Finding:
    url = config.public_url
    if url.startswith("https://"):
        return Finding(OK, "public URL", url)
    if config.sandbox:
        return Finding(OK, "public URL", f"{url} (plain http is fine with sandboxes)")
    return Finding(WARN, "public URL", f"{url} is not https: providers only push changes (calendar watches, "
                   "subscriptions) to an https address", "set AXHUB_PUBLIC_URL=https://… to the address providers reach")


def _push(config: Config) -> Finding:
    """Whether providers can notify this hub of changes (docs/push.md), or it polls."""
    address, why = config.push_address()
    if address is not None:
        return Finding(OK, "push", f"providers that can notify push to {address}/hooks/{{provider}}")
    if config.push in ("0", "false", "no", "off"):
        return Finding(OK, "push", f"off: every integration polls at its syncInterval ({why})")
    return Finding(WARN, "push", f"every integration polls at its syncInterval: {why}",
                   "set AXHUB_PUBLIC_URL=https://… to an address providers reach (docs/push.md)")


def _run(args: argparse.Namespace) -> int:
    config, found = _configuration()
    if config is not None:
        found += asyncio.run(_database(config))
        found += _plugins(config)
        found.append(_public_url(config))
        found.append(_push(config))
    width = max(len(f.check) for f in found)
    for f in found:
        print(f"{f.level:<4}  {f.check:<{width}}  {f.detail}")
        if f.fix:
            print(f"{'':<4}  {'':<{width}}  → {f.fix}")
    failed = sum(f.level == FAIL for f in found)
    warned = sum(f.level == WARN for f in found)
    print(f"\n{failed} problem(s), {warned} warning(s)" if failed or warned else "\nall checks passed",
          file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def add_parser(sub) -> None:
    doctor = sub.add_parser("doctor", help="check configuration, database, migrations, plugins, vault key and "
                                           "public URL, and say what to fix")
    doctor.set_defaults(func=_run)
