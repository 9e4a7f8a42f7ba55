"""A sync run from start to finish: validated, locked and recorded, the engine run in
the background with live progress, and its outcome written with the cursor it earned,
its signal and its notice in one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Awaitable, Iterable

import msgspec
from sqlalchemy import update

from ..db import Integration, SyncRun
from ..errors import ApiError, InvalidCredentials, ProviderError
from ..vault import dead_grant
from ..events.service import record_from_provider
from ..ids import new_id
from ..integrations.service import connection
from ..oplog import failure
from ..runtime.services import Services
from .engine import Engine
from .lock import RECORD, RUNNING, acquire, release, release_statement, renew
from .notices import after_sync
from .options import SyncIn, SyncOptions, directions_of, estimate, options_from

log = logging.getLogger("axhub.sync")

BULK_ROWS = 1000  # a run that wrote this many rows has the database refresh its statistics


def now() -> datetime:
    return datetime.now(timezone.utc)


async def start(
    svc: Services, row: Integration, body: SyncIn, *, type_: str, triggered_by: Any, wait: bool = False,
    ended: Iterable[str] = (),
) -> dict[str, Any]:
    """Validate, lock, record and launch a run in the background; 409 if one is running.
    ``wait``: run it before returning (the scheduler's jobs, which last as long as their run).
    ``ended``: meetings the provider said ended (push), followed up whatever their event's end."""
    if row.status == "disconnected":
        raise ApiError("CONFLICT", "the integration is disconnected; connect it again to sync")
    if not svc.hub.implements(row.provider, "sync"):
        raise ApiError("PROVIDER_NOT_SUPPORTED", f"{row.provider} integrations do not sync", status=400)
    options = options_from(body, row.settings, directions_of(svc.hub.provider(row.provider).settings_type))
    if ended:
        options = dataclasses.replace(options, ended=frozenset(ended))
    run_id = new_id("sync")
    holder, taken = await acquire(svc, row.id, row.org_id, run_id)
    if holder is not None:
        raise ApiError("CONFLICT", f"a sync of this integration is already running ({holder})",
                       details={"syncId": holder, "statusUrl": status_url(row.id, holder)})
    at = now()

    async def record() -> None:
        async with svc.db.connect() as s:  # one statement
            await s.execute(RECORD, dict(
                id=run_id, integration_id=row.id, org_id=row.org_id, provider=row.provider, status="started", type=type_,
                direction=options.direction, scope=options.scope, dry_run=options.dry_run, error_count=0,
                options=msgspec.to_builtins(body.options), triggered_by=triggered_by if isinstance(triggered_by, dict)
                else {"name": triggered_by}, statistics={}, errors=[], conflicts=[], plan=None, message=None,
                error_code=None, started_at=at, completed_at=None, duration_ms=None,
            ))

    # The engine starts reading (credentials, the change log, the provider) while the
    # run's record is written; it writes nothing of the run's own before that record is
    # in, and the caller hears of the run only once it is.
    recorded = asyncio.ensure_future(record())
    task = svc.tasks.spawn(execute(svc, run_id, row, options, (taken.cursor, taken.change_mark, taken.newest_change),
                                   recorded), name=run_id)
    try:
        await recorded
    except BaseException:
        task.cancel()
        await asyncio.gather(task, recorded, return_exceptions=True)
        await release(svc, row.id, run_id)
        raise
    if wait:
        # Shielded: a job cancelled as its scheduler stops leaves the run to finish (the
        # hub drains its tasks before closing).
        await asyncio.shield(task)
    return {"syncId": run_id, "status": "started", "startedAt": at, "estimatedDuration": estimate(taken.last_ms),
            "statusUrl": status_url(row.id, run_id)}


async def start_initial(svc: Services, row: Integration) -> dict[str, Any] | None:
    """The first sync of a connection just made (the API's callback and the console's
    both start it); None for a provider that does not sync."""
    if not svc.hub.implements(row.provider, "sync"):
        return None
    return await start(svc, row, SyncIn(), type_="initial", triggered_by="initial_sync")


def status_url(integration_id: str, run_id: str) -> str:
    return f"/api/integrations/{integration_id}/sync/{run_id}/status"


async def execute(svc: Services, run_id: str, row: Integration, options: SyncOptions,
                  state: tuple[str | None, int | None, int | None], recorded: Awaitable[None]) -> None:
    """Run the engine and record how it went; ``state``: the cursor, change mark and
    newest local change the run's lock was taken with; ``recorded``: the insert of the
    run's record, under way."""
    started = time.perf_counter()
    # Progress is written twice a second at most, and not at all for a run quicker than that.
    last = {"renew": time.monotonic(), "progress": time.monotonic()}

    async def heartbeat() -> None:
        # Renew well before the lease runs out; a dead process stops renewing.
        if time.monotonic() - last["renew"] > svc.config.sync_lock_seconds / 6:
            last["renew"] = time.monotonic()
            await renew(svc, row.id, run_id)

    async def progress(stats: dict[str, Any]) -> None:
        if time.monotonic() - last["progress"] > 0.5:
            last["progress"] = time.monotonic()
            async with svc.db.connect() as s:  # one statement
                await s.execute(update(SyncRun).where(SyncRun.id == run_id).values(statistics=stats))

    async def running() -> None:
        await recorded
        async with svc.db.connect() as s:  # one statement
            await s.execute(RUNNING, {"run": run_id})

    # Off the run's critical path: the status moves while the engine reads the provider.
    marked = asyncio.ensure_future(running())
    engine = None
    status, message, plan, errors = "failed", None, None, []
    try:
        adapter = await svc.hub.call(row.provider, "sync", connection=connection(svc, row))
        engine = Engine(svc.db, integration_id=row.id, org_id=row.org_id, adapter=adapter, options=options, state=state,
                        progress=progress, heartbeat=heartbeat, source=row.provider, run_id=run_id,
                        attendance=functools.partial(record_from_provider, svc, row.org_id, source=row.provider))
        result = await engine.run()
        plan = result["plan"]
        errors = engine.errors
        status = "partial" if errors else "completed"
    except ProviderError as exc:
        message = f"{exc.code}: {exc.message}"
        errors = [*(engine.errors if engine else []), {"eventId": None, "error": exc.message, "code": exc.code}]
        if isinstance(exc, InvalidCredentials):
            await _mark(svc, row.id, status="error", code=exc.code, message=dead_grant(exc.message, svc.config.sandbox))
        else:
            await _mark(svc, row.id, code=exc.code, message=exc.message)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, never lost in a task
        log.exception("sync %s failed", run_id)
        message = f"SYNC_FAILED: internal error ({type(exc).__name__})"
        errors = [*(engine.errors if engine else []), {"eventId": None, "error": "internal error", "code": "SYNC_FAILED"}]
    duration = time.perf_counter() - started
    finished = now()
    if status != "completed":  # the operator's line: which integration, which spec code
        first = next((e.get("error") for e in errors if e.get("error")), None)
        failure(f"sync_{status}", integration=row.id, code=main_code(status, errors), provider=row.provider,
                run=run_id, errors=len(errors), dry_run=options.dry_run, message=message or first)
    await asyncio.gather(marked, return_exceptions=True)  # the final record must come after it
    stats = engine.summary() if engine else {}
    released = False
    if stats:
        stats["errors"] = len(errors)
    try:
        async with svc.db.session() as s, s.begin():
            await s.execute(update(SyncRun).where(SyncRun.id == run_id).values(
                status=status, message=message, statistics=stats, errors=errors[:500], error_count=len(errors),
                error_code=main_code(status, errors),
                # What ran: an export-only adapter runs only the outbound half, whatever was asked.
                direction=engine.options.direction if engine else options.direction,
                conflicts=(engine.plan.conflicts if engine else [])[:500], plan=plan, completed_at=finished,
                duration_ms=int(duration * 1000),
            ))
            state: dict[str, Any] = {}
            if status != "failed" and not options.dry_run:
                await s.execute(update(Integration).where(Integration.id == row.id)
                                .values(last_sync=finished, last_activity=finished))
                state = engine.state_values  # the cursor moves with the record of the run that earned it
            if not options.dry_run:  # signalled with the run's record, so never lost
                kind = "syncFailed" if status == "failed" else "syncCompleted"
                svc.signals.emit(s, kind, row.org_id, {"integrationId": row.id, "provider": row.provider, "syncId": run_id,
                                                       "status": status, "statistics": stats, "message": message})
                # People told as the integration's notifications ask, with the same record.
                await after_sync(svc, s, row, run_id, status, stats, message, errors)
            # Released with the final record: whoever sees the run finished may start the next.
            await s.execute(release_statement(row.id, run_id, **state))
        released = True
    finally:
        if not released:  # the final record failed: never leave the lock to its lease
            await release(svc, row.id, run_id)
    if not options.dry_run:
        bulk = (stats.get("eventsCreated", 0) + stats.get("eventsUpdated", 0) + stats.get("eventsDeleted", 0)) >= BULK_ROWS
        svc.tasks.spawn(svc.db.settle(("events", "sync_links") if bulk else ()), name=f"settle-{run_id}")


def main_code(status: str, errors: list[dict[str, Any]]) -> str | None:
    """The code analytics files a run under: a failed run's cause (its last error),
    a partial run's commonest per-event code."""
    if status == "completed" or not errors:
        return None
    if status == "failed":
        return errors[-1].get("code") or "SYNC_FAILED"
    return Counter(e.get("code") or "SYNC_FAILED" for e in errors).most_common(1)[0][0]


async def _mark(svc: Services, integration_id: str, *, code: str, message: str, status: str | None = None) -> None:
    values: dict[str, Any] = {"last_error": code, "last_error_message": message, "last_error_at": now()}
    if status:
        values["status"] = status
    async with svc.db.session() as s, s.begin():
        await s.execute(update(Integration).where(Integration.id == integration_id).values(**values))
