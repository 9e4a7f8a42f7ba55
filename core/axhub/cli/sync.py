"""``axhub sync ID [--direction …] [--scope …] [--dry-run] [--force]``: a manual sync
from the command line, recorded as the API records one (``type: manual``, triggered by
the CLI), with a progress bar fed by the run's live statistics and a summary table at
the end. Exit codes: 0 completed, 1 failed or partial (the table says which), 2 a
usage error (unknown integration, a direction the provider cannot do…)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..config import Config
from ..sync.options import DIRECTIONS, FINISHED, SCOPES

TRIGGERED_BY = {"name": "axhub sync (CLI)", "userId": "axhub-cli"}
class UsageError(Exception):
    """A request the command line is at fault for: printed with the usage, exit 2."""


POLL = 0.2  # seconds between looks at the run's record; the engine writes it twice a second at most


def _sandbox_unreachable(config: Config, provider: str) -> str | None:
    """In sandbox mode the providers are the serving hub's sandboxes: a sentence saying
    so when they do not answer (the run would only fail with CONNECTION_ERROR)."""
    if not config.sandbox:
        return None
    import httpx

    base = config.sandbox_url or f"{config.public_url}/sandbox"
    try:
        httpx.get(f"{base}/{provider}/", timeout=5)
    except httpx.TransportError:
        return (f"the {provider} sandbox at {base}/{provider} does not answer: sandboxes run inside the serving hub "
                f"(sandbox mode, from {config.sandbox_source}); start it with `python3 dev.py serve` "
                f"(or `axhub serve --sandbox`) and try again")
    return None


async def _sync(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from ..api.wiring import build_services
    from ..db import Integration, SyncRun
    from ..errors import ApiError
    from ..sync import runs
    from ..sync.options import SyncIn, SyncOptionsIn
    from .progress import RunProgress, summary

    svc = build_services(Config.from_env())
    try:
        async with svc.db.session() as s:
            row = await s.get(Integration, args.integration_id)
        if row is None:
            raise UsageError(f"no integration {args.integration_id!r} (`axhub jobs` lists the integrations that sync)")
        if (problem := _sandbox_unreachable(svc.config, row.provider)) is not None:
            print(f"axhub sync: {problem}", file=sys.stderr)
            return 1
        body = SyncIn(direction=args.direction, scope=args.scope,
                      options=SyncOptionsIn(force_update=args.force, dry_run=args.dry_run))
        try:
            started = await runs.start(svc, row, body, type_="manual", triggered_by=TRIGGERED_BY)
        except ApiError as exc:
            if exc.status == 400:  # the request is at fault: a usage error
                raise UsageError(f"{exc.field}: {exc.message}" if exc.field and exc.field not in exc.message
                                 else exc.message)
            print(f"axhub sync: {exc.code}: {exc.message}", file=sys.stderr)
            return 1
        run_id = started["syncId"]
        with RunProgress(f"{row.provider} {row.id}", run_id) as bar:
            while True:
                async with svc.db.connect() as c:
                    run = (await c.execute(select(SyncRun.status, SyncRun.statistics, SyncRun.message, SyncRun.errors,
                                                  SyncRun.duration_ms).where(SyncRun.id == run_id))).first()
                bar.update(run.status, run.statistics or {})
                if run.status in FINISHED:
                    break
                await asyncio.sleep(POLL)
        await svc.tasks.drain()  # the run's signal and notices, sent by this process
        summary(run_id, run.status, run.statistics or {}, run.message, run.errors or [], run.duration_ms,
                dry_run=args.dry_run)
        return 0 if run.status == "completed" else 1
    finally:
        await svc.aclose()


def _run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_sync(args))
    except UsageError as exc:
        args.usage.error(str(exc))  # usage and the one line on stderr, exit 2


def add_parser(sub: Any) -> None:
    sync = sub.add_parser("sync", help="run a manual sync of one integration now, with progress and a summary",
                          description=__doc__.split("\n\n")[0].replace("``", "`"))
    sync.add_argument("integration_id", metavar="ID", help="the integration to sync (int-…)")
    sync.add_argument("--direction", choices=DIRECTIONS,
                      help="which way to sync (default: the integration's syncDirection)")
    sync.add_argument("--scope", choices=SCOPES, default="all", help="which events: all (default), future or past")
    sync.add_argument("--dry-run", action="store_true", help="plan the run and count what it would do; write nothing")
    sync.add_argument("--force", action="store_true",
                      help="ignore the saved cursor: read every event again and update what differs (forceUpdate)")
    sync.set_defaults(func=_run, usage=sync)
