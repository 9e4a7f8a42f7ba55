"""The ``axhub`` command: serve, worker, jobs, token, plugins, analytics, db, vault, sandbox,
plugin new."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys

from ..config import Config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ..api.app import create_app

    from ..config import record_serving

    overrides = {"public_url": os.environ.get("AXHUB_PUBLIC_URL") or f"http://{args.host}:{args.port}"}
    if args.sandbox:
        overrides["sandbox"] = True
    if args.no_access_log:
        overrides["access_log"] = False
    # The server decides its providers from its flags and environment, and records them
    # for the other commands on this data folder (never the other way round).
    config = Config.from_env(recorded=False, **overrides)
    _logging()
    app = create_app(config)
    record_serving(config)
    # Everything loaded so far (modules, models, routes, plugins) lives as long as the
    # process: moved out of the collector's sight, it is not traversed again by every full
    # collection while a large sync allocates (a 10,000-event listing paid ~100 ms for it).
    gc.freeze()
    from ..api.access_log import with_access_log

    served = with_access_log(app) if config.access_log else app
    server = uvicorn.Server(uvicorn.Config(served, host=args.host, port=args.port, log_level="warning", access_log=False))

    async def run() -> None:
        from .first_screen import lines

        serving = asyncio.ensure_future(server.serve())
        # The first screen once the socket listens (migrations and the lifespan are done),
        # so that its curl line works as soon as it is read.
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            print("\n".join(lines(config, app.state.services.plugins, f"http://{args.host}:{args.port}")), flush=True)
        await serving

    asyncio.run(run())
    return 0 if server.started else 1


def _token(args: argparse.Namespace) -> int:
    from ..auth import create_token

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
    from ..plugins import PluginManager

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


def _analytics(args: argparse.Namespace) -> int:
    from ..analytics import report, service
    from ..errors import ApiError
    from ..api.wiring import build_services

    async def run() -> dict:
        svc = build_services(Config.from_env())
        try:
            return await service.metrics(svc, args.org, args.period, service.parse_providers(svc, args.providers))
        finally:
            await svc.aclose()

    try:
        data = asyncio.run(run())
    except ApiError as exc:
        print(f"axhub analytics: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(data, indent=2, default=str) if args.json else report.render(args.org, data))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from ..db import Database

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
    from ..db import Database
    from ..vault import Cipher, Vault

    async def run() -> int:
        config = Config.from_env()
        db = Database(config.database_url)
        try:
            return await Vault(db, Cipher(config.vault_keys), config.refresh_margin).rotate_all()
        finally:
            await db.dispose()

    print(f"re-encrypted {asyncio.run(run())} credentials with the first key of AXHUB_VAULT_KEYS")
    return 0


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("AXHUB_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; provider URLs are ours to log, not its.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # APScheduler logs every job it runs at INFO; the hub logs what its jobs did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic announces its plugins and each migration at INFO: debug detail for the hub.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _jobs(args: argparse.Namespace) -> int:
    """List the schedules with their next run times, or run one job now."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from ..db import Integration
    from ..api.wiring import build_services

    async def listing() -> list[dict]:
        svc = build_services(Config.from_env())
        try:
            async with svc.db.session() as s:
                rows = {r.id: r for r in (await s.scalars(select(Integration).where(Integration.status != "disconnected"))).all()}
            if svc.scheduler.store_kind == "database":
                await svc.scheduler.start(run_jobs=False, reconcile=False)
                found = await svc.scheduler.schedules()
            else:
                # The in-memory store lives in the serving process; its schedules are the
                # integrations' grids, computed here exactly as that process does.
                from ..scheduler.jobs import PERIODIC

                found = [{"id": f"sync:{r.id}", "task": "axhub.sync", "integrationId": r.id,
                          "interval": svc.scheduler.interval_of(r), "nextRun": svc.scheduler.next_sync(r)}
                         for r in rows.values() if svc.scheduler.interval_of(r) is not None]
                found += [{"id": f"job:{name}", "task": f"axhub.{name}", "integrationId": None, "interval": None,
                           "nextRun": make_trigger().next()} for name, (_job, make_trigger) in PERIODIC.items()]
            for item in found:
                row = rows.get(item.get("integrationId") or "")
                item["provider"] = row.provider if row else None
                item["orgId"] = row.org_id if row else None
                # An integration in error (a dead grant) keeps its schedule, but each fire
                # skips it until someone reconnects it: paused, and why.
                item["paused"] = ({"code": row.last_error, "message": row.last_error_message}
                                  if row is not None and row.status == "error" else None)
                if item["paused"]:
                    item["nextRun"] = None
            return sorted(found, key=lambda i: (i["nextRun"] is None, i["nextRun"] or datetime.max.replace(tzinfo=timezone.utc), i["id"]))
        finally:
            await svc.aclose()

    async def run_one(at: datetime | None) -> object:
        from ..scheduler.jobs import run_job

        svc = build_services(Config.from_env())
        try:
            if args.integration:
                async with svc.db.session() as s:
                    if await s.get(Integration, args.integration) is None:
                        return LookupError(f"no integration {args.integration!r} (`axhub jobs` lists them)")
            result = await run_job(svc, args.job, at, integration_id=args.integration)
            await svc.tasks.drain()  # the notifications it sent
            return result
        finally:
            await svc.aclose()

    if args.jobs_command == "run":
        from ..scheduler.jobs import JOBS

        # Usage errors come before any work: one line and the usage, exit 2.
        if args.job not in ("sync", *JOBS):
            args.usage.error(f"unknown job {args.job!r}; jobs: sync, {', '.join(JOBS)}")
        if args.job == "sync" and not args.integration:
            args.usage.error("the sync job needs --integration ID (or run `axhub sync ID` for a manual sync)")
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else None
        except ValueError:
            args.usage.error(f"--at {args.at!r} is not an ISO 8601 date-time (e.g. 2026-03-15T09:00:00Z)")
        if at is not None and at.tzinfo is None:
            args.usage.error("--at needs a UTC offset (e.g. 2026-03-15T09:00:00Z)")
        _logging()
        result = asyncio.run(run_one(at))
        if isinstance(result, LookupError):
            args.usage.error(str(result))
        print(json.dumps({"job": args.job, "result": result}))
        return 0
    items = asyncio.run(listing())
    if args.json:
        print(json.dumps(items, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v), indent=2))
        return 0
    rows = [("SCHEDULE", "PROVIDER", "INTERVAL", "NEXT RUN")]
    for i in items:
        nxt = i["nextRun"].isoformat(timespec="seconds") if i["nextRun"] else "-"
        if i.get("paused"):
            nxt = f"paused: {i['paused']['code']} ({i['paused']['message'] or 'reconnect the integration'})"
        rows.append((i["id"], i["provider"] or "-", f"{i['interval']}s" if i.get("interval") else "-", nxt))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Run scheduled jobs without serving HTTP (several processes on PostgreSQL)."""
    import signal

    from ..api.wiring import build_services
    from ..sync.lock import close_orphans

    _logging()
    config = Config.from_env()

    async def run() -> None:
        svc = build_services(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if config.auto_migrate:
                await svc.db.upgrade()
            await close_orphans(svc)  # runs a killed process left, before its jobs start new ones
            await svc.scheduler.start(run_jobs=True)
            print(f"axhub worker ({svc.scheduler.store_kind} store) running scheduled jobs", flush=True)
            await stop.wait()
        finally:
            await svc.aclose()

    asyncio.run(run())
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from ..api.app import sandbox_app

    print(f"provider sandboxes on http://{args.host}:{args.port}/<provider>", flush=True)
    uvicorn.run(sandbox_app(Config.from_env()), host=args.host, port=args.port, log_level="warning")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axhub", description="Attendance-X integration hub")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub's HTTP API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--sandbox", action="store_true", help="point every plugin at its sandbox, served by this hub")
    serve.add_argument("--no-access-log", action="store_true",
                       help="no line per request (same as AXHUB_ACCESS_LOG=0); failures are still logged")
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="bearer tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="print a Bearer token for an identity")
    create.add_argument("--org", required=True, help="the organisation id (the token's org claim)")
    create.add_argument("--role", required=True, choices=["member", "manager", "admin"], help="the caller's role")
    create.add_argument("--user", default="operator", help="the user id (sub claim; default operator)")
    create.add_argument("--name", help="the user's display name (shown as triggeredBy of the syncs they start)")
    create.add_argument("--email", help="the user's email address")
    create.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    create.set_defaults(func=_token)

    plugins = sub.add_parser("plugins", help="list plugins: version, type, status, hooks")
    plugins.add_argument("--json", action="store_true", help="JSON instead of the table")
    plugins.set_defaults(func=_plugins)

    analytics = sub.add_parser("analytics", help="an organisation's integration metrics, with trends")
    analytics.add_argument("--org", required=True, help="the organisation id")
    analytics.add_argument("--period", default="week", choices=["day", "week", "month", "quarter"],
                           help="the period the figures cover, compared with the one before (default week)")
    analytics.add_argument("--providers", help="comma-separated provider slugs (default all)")
    analytics.add_argument("--json", action="store_true", help="the API's JSON instead of the table")
    analytics.set_defaults(func=_analytics)

    db = sub.add_parser("db", help="database")
    dsub = db.add_subparsers(dest="db_command", required=True)
    up = dsub.add_parser("upgrade", help="apply migrations (Alembic)")
    up.add_argument("revision", nargs="?", default="head", help="the Alembic revision to reach (default head)")
    up.set_defaults(func=_db_upgrade)

    vault = sub.add_parser("vault", help="credential vault")
    vsub = vault.add_subparsers(dest="vault_command", required=True)
    rot = vsub.add_parser("rotate", help="re-encrypt every credential with the first key of AXHUB_VAULT_KEYS")
    rot.set_defaults(func=_vault_rotate)

    jobs = sub.add_parser("jobs", help="scheduled jobs: list schedules with their next run, or run one now")
    jobs.add_argument("--json", action="store_true", help="JSON instead of the table")
    jobs.set_defaults(func=_jobs, jobs_command=None)
    jsub = jobs.add_subparsers(dest="jobs_command")
    run = jsub.add_parser("run", help="run one job now: sync, reminders, attendance-alerts, weekly-report, "
                                      "token-refresh, delivery-retries, upkeep, push-upkeep")
    run.add_argument("job", help="the job's name (listed above)")
    run.add_argument("--at", help="the moment the job acts for (ISO 8601 with offset; default now); for sync, the due time")
    run.add_argument("--integration", help="the integration (sync)")
    run.set_defaults(func=_jobs, usage=run)

    worker = sub.add_parser("worker", help="run scheduled jobs without serving HTTP (PostgreSQL, several processes)")
    worker.set_defaults(func=_worker)

    sandbox = sub.add_parser("sandbox", help="serve only the providers' sandboxes (for several hub processes)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8900, help="port to listen on (default 8900)")
    sandbox.set_defaults(func=_sandbox)
    from . import doctor, integration_test, scaffold, sync

    scaffold.add_parser(sub)
    integration_test.add_parser(sub)
    sync.add_parser(sub)
    doctor.add_parser(sub)
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
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - a database that is not ready is a sentence, not a traceback
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, (DBAPIError, ConnectionError)):
            raise
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        print(f"axhub {args.command}: the database is not ready ({type(exc).__name__}: {reason}); "
              "`axhub doctor` says what to fix", file=sys.stderr)
        return 1

