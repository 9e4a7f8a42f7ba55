"""Sync runs: the one-at-a-time lock, the run's record and live progress, history, and
the figures the integration view shows (``statistics``, ``lastSync``)."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Awaitable

import msgspec
from sqlalchemy import bindparam, case, func, insert, select, update

from ..db import EventChange, Integration, SyncLink, SyncRun, SyncState
from ..events.service import record_from_provider
from ..errors import ApiError, InvalidCredentials, ProviderError, validation_error
from ..ids import new_id
from ..integrations.service import get_owned
from ..state import Services
from .engine import Engine, SyncOptions

if TYPE_CHECKING:
    from ..auth import Identity

log = logging.getLogger("axhub.sync")

DIRECTIONS = ("bidirectional", "attendance_to_external", "external_to_attendance")
SCOPES = ("all", "future", "past")
FINISHED = ("completed", "partial", "failed")
BULK_ROWS = 1000  # a run that wrote this many rows has the database refresh its statistics
# History speaks the spec's words for a finished run.
HISTORY_STATUS = {"completed": "success", "partial": "partial", "failed": "error", "started": "started", "running": "running"}


def now() -> datetime:
    return datetime.now(timezone.utc)


class DateRange(msgspec.Struct, forbid_unknown_fields=True):
    start: datetime
    end: datetime


class SyncOptionsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    force_update: bool = False
    dry_run: bool = False
    date_range: DateRange | None = None


class SyncIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    direction: str | None = None
    scope: str = "all"
    options: SyncOptionsIn = msgspec.field(default_factory=SyncOptionsIn)


def options_from(body: SyncIn, settings: dict[str, Any]) -> SyncOptions:
    direction = body.direction or settings.get("syncDirection") or "bidirectional"
    if direction not in DIRECTIONS:
        raise validation_error("direction", f"must be one of {', '.join(DIRECTIONS)}")
    if body.scope not in SCOPES:
        raise validation_error("scope", f"must be one of {', '.join(SCOPES)}")
    start = end = None
    if body.options.date_range is not None:
        start, end = body.options.date_range.start, body.options.date_range.end
        for name, value in (("start", start), ("end", end)):
            if value.tzinfo is None:
                raise validation_error(f"options.dateRange.{name}", "must carry a UTC offset")
        if end <= start:
            raise validation_error("options.dateRange.end", "must be after start")
    return SyncOptions(direction=direction, scope=body.scope, force_update=body.options.force_update,
                       dry_run=body.options.dry_run, start=start, end=end)


def human(seconds: float | None, compact: bool = False) -> str | None:
    if seconds is None:
        return None
    if compact or seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


def estimate(last_ms: int | None) -> str:
    """From the integration's last run; a first run of 10,000 events takes about a second."""
    if last_ms is None or last_ms < 30_000:
        return "under a minute"
    low = max(1, last_ms // 60_000)
    return f"{low}-{low * 2 + 1} minutes"


# The statements every run and status poll sends, built once: building one (comparisons
# of ORM attributes, its cache key) costs more CPU than sending it, and a run shares its
# process with the API.
_RUNS, _STATE, _CHANGES = SyncRun.__table__.c, SyncState.__table__.c, EventChange.__table__.c
_REAL = _RUNS.dry_run.is_(False)
_LAST_MS = (select(_RUNS.duration_ms)
            .where(_RUNS.integration_id == _STATE.integration_id, _RUNS.status.in_(FINISHED), _REAL)
            .order_by(_RUNS.started_at.desc()).limit(1).scalar_subquery())
# The newest entry of the organisation's change log (0: none).
_NEWEST_CHANGE = (select(func.coalesce(func.max(_CHANGES.seq), 0))
                  .where(_CHANGES.org_id == bindparam("org")).scalar_subquery())
# Taking the lock: the UPDATE's WHERE is the lock. RETURNING: the cursor as the lock was
# taken, which is the one the previous run saved as it released the lock (read before,
# it could be older than that), the newest local change (the run's next change mark,
# which must be read before any event is), and the figure the run's estimated
# duration comes from: no query of their own.
_TAKE = (update(SyncState.__table__).where(_STATE.integration_id == bindparam("integration"))
         .values(lock_owner=bindparam("owner"), lock_until=bindparam("until"), running_sync_id=bindparam("owner"),
                 updated_at=bindparam("at"))
         .returning(_STATE.cursor, _STATE.change_mark, _NEWEST_CHANGE.label("newest_change"),
                    _LAST_MS.label("last_ms")))
_TAKE_FREE = _TAKE.where(_STATE.lock_until.is_(None))
_TAKE_EXPIRED = _TAKE.where(_STATE.lock_until < bindparam("at"))
_RECORD = insert(SyncRun.__table__)
_RUNNING = (update(SyncRun.__table__).where(_RUNS.id == bindparam("run"), _RUNS.status == "started")
            .values(status="running"))
_GET_RUN = select(SyncRun.__table__).where(_RUNS.id == bindparam("run"), _RUNS.integration_id == bindparam("integration"),
                                           _RUNS.org_id == bindparam("org"))


# -- lock ------------------------------------------------------------------------------

async def _acquire(svc: Services, integration_id: str, org_id: str, run_id: str) -> tuple[str | None, Any]:
    """Take the integration's sync lock for ``run_id``: (None, a row of the cursor and
    change mark the lock was taken with, the organisation's newest local change and the
    last finished run's ``duration_ms``), or (the id of the run holding it, None). A
    lock whose holder stopped renewing it (its process died) is taken over, and that
    run is marked failed."""
    at = now()
    take = {"integration": integration_id, "org": org_id, "owner": run_id, "at": at,
            "until": at + timedelta(seconds=svc.config.sync_lock_seconds)}
    # Every step is one statement, each atomic by itself.
    async with svc.db.connect() as s:
        # The usual case, one round trip: the lock is free.
        taken = (await s.execute(_TAKE_FREE, take)).first()
        if taken is not None:
            return None, taken
        state = (await s.execute(select(SyncState.running_sync_id, SyncState.lock_until)
                                 .where(SyncState.integration_id == integration_id))).first()
        if state is not None and state.lock_until is not None and state.lock_until >= at:
            return state.running_sync_id or "unknown", None  # held
        if state is None:  # the integration's first run
            await s.execute(svc.db.insert_ignoring(SyncState).values(
                integration_id=integration_id, cursor=None, change_mark=None, lock_owner=None, lock_until=None,
                running_sync_id=None, updated_at=at))
        # Expired: its holder stopped renewing it (its process died). Otherwise it was
        # released meanwhile, or the state row is new.
        expired = state is not None and state.lock_until is not None
        taken = (await s.execute(_TAKE_EXPIRED if expired else _TAKE_FREE, take)).first()
        if taken is None:  # another run took it in between
            held = (await s.execute(select(SyncState.running_sync_id)
                                    .where(SyncState.integration_id == integration_id))).scalar()
            return held or "unknown", None
        if expired and state.running_sync_id:
            await s.execute(update(SyncRun).where(SyncRun.id == state.running_sync_id,
                                                  SyncRun.status.in_(("started", "running")))
                            .values(status="failed", message="interrupted: the process running it stopped",
                                    completed_at=at))
    return None, taken


async def _renew(svc: Services, integration_id: str, run_id: str) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(update(SyncState).where(SyncState.integration_id == integration_id, SyncState.lock_owner == run_id)
                        .values(lock_until=now() + timedelta(seconds=svc.config.sync_lock_seconds)))


def _release_statement(integration_id: str, run_id: str, **state: Any) -> Any:
    return (update(SyncState).where(SyncState.integration_id == integration_id, SyncState.lock_owner == run_id)
            .values({"updated_at": now(), **state, "lock_owner": None, "lock_until": None, "running_sync_id": None}))


async def _release(svc: Services, integration_id: str, run_id: str) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(_release_statement(integration_id, run_id))


# -- start and run ---------------------------------------------------------------------

async def start(
    svc: Services, row: Integration, body: SyncIn, *, type_: str, triggered_by: Any, wait: bool = False
) -> dict[str, Any]:
    """Validate, lock, record and launch a run in the background; 409 if one is running.
    ``wait``: run it before returning (the scheduler's jobs, which last as long as their run)."""
    if row.status == "disconnected":
        raise ApiError("CONFLICT", "the integration is disconnected; connect it again to sync")
    if not svc.hub.implements(row.provider, "sync"):
        raise ApiError("PROVIDER_NOT_SUPPORTED", f"{row.provider} integrations do not sync", status=400)
    options = options_from(body, row.settings)
    run_id = new_id("sync")
    holder, taken = await _acquire(svc, row.id, row.org_id, run_id)
    if holder is not None:
        raise ApiError("CONFLICT", f"a sync of this integration is already running ({holder})",
                       details={"syncId": holder, "statusUrl": status_url(row.id, holder)})
    at = now()

    async def record() -> None:
        async with svc.db.connect() as s:  # one statement
            await s.execute(_RECORD, dict(
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
        await _release(svc, row.id, run_id)
        raise
    if wait:
        # Shielded: a job cancelled as its scheduler stops leaves the run to finish (the
        # hub drains its tasks before closing).
        await asyncio.shield(task)
    return {"syncId": run_id, "status": "started", "startedAt": at, "estimatedDuration": estimate(taken.last_ms),
            "statusUrl": status_url(row.id, run_id)}


def status_url(integration_id: str, run_id: str) -> str:
    return f"/api/integrations/{integration_id}/sync/{run_id}/status"


async def execute(svc: Services, run_id: str, row: Integration, options: SyncOptions,
                  state: tuple[str | None, int | None, int | None], recorded: Awaitable[None]) -> None:
    """Run the engine and record how it went; ``state``: the cursor, change mark and
    newest local change the run's lock was taken with; ``recorded``: the insert of the
    run's record, under way."""
    from ..integrations.service import connection  # the integration's view for plugins

    started = time.perf_counter()
    # Progress is written twice a second at most, and not at all for a run quicker than that.
    last = {"renew": time.monotonic(), "progress": time.monotonic()}

    async def heartbeat() -> None:
        # Renew well before the lease runs out; a dead process stops renewing.
        if time.monotonic() - last["renew"] > svc.config.sync_lock_seconds / 6:
            last["renew"] = time.monotonic()
            await _renew(svc, row.id, run_id)

    async def progress(stats: dict[str, Any]) -> None:
        if time.monotonic() - last["progress"] > 0.5:
            last["progress"] = time.monotonic()
            async with svc.db.connect() as s:  # one statement
                await s.execute(update(SyncRun).where(SyncRun.id == run_id).values(statistics=stats))

    async def running() -> None:
        await recorded
        async with svc.db.connect() as s:  # one statement
            await s.execute(_RUNNING, {"run": run_id})

    # Off the run's critical path: the status moves while the engine reads the provider.
    marked = asyncio.ensure_future(running())
    engine = None
    status, message, plan, errors = "failed", None, None, []
    try:
        adapter = await svc.hub.call(row.provider, "sync", connection=connection(svc, row))
        engine = Engine(svc.db, integration_id=row.id, org_id=row.org_id, adapter=adapter, options=options, state=state,
                        progress=progress, heartbeat=heartbeat, source=row.provider,
                        attendance=functools.partial(record_from_provider, svc, row.org_id, source=row.provider))
        result = await engine.run()
        plan = result["plan"]
        errors = engine.errors
        status = "partial" if errors else "completed"
    except ProviderError as exc:
        message = f"{exc.code}: {exc.message}"
        errors = [*(engine.errors if engine else []), {"eventId": None, "error": exc.message, "code": exc.code}]
        if isinstance(exc, InvalidCredentials):
            await _mark(svc, row.id, status="error", code=exc.code, message=f"{exc.message}; reconnect the integration")
        else:
            await _mark(svc, row.id, code=exc.code, message=exc.message)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, never lost in a task
        log.exception("sync %s failed", run_id)
        message = f"SYNC_FAILED: internal error ({type(exc).__name__})"
        errors = [*(engine.errors if engine else []), {"eventId": None, "error": "internal error", "code": "SYNC_FAILED"}]
    duration = time.perf_counter() - started
    finished = now()
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
                from ..scheduler.jobs import after_sync  # people told as the integration's notifications ask

                await after_sync(svc, s, row, run_id, status, stats, message)
            # Released with the final record: whoever sees the run finished may start the next.
            await s.execute(_release_statement(row.id, run_id, **state))
        released = True
    finally:
        if not released:  # the final record failed: never leave the lock to its lease
            await _release(svc, row.id, run_id)
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


# -- reading ---------------------------------------------------------------------------

def run_view(run: SyncRun, *, history: bool = False) -> dict[str, Any]:
    triggered = run.triggered_by or {}
    by: Any = triggered.get("name") if set(triggered) == {"name"} else triggered
    seconds = run.duration_ms / 1000 if run.duration_ms is not None else None
    out: dict[str, Any] = {
        "id" if history else "syncId": run.id,
        "startedAt": run.started_at,
        "completedAt": run.completed_at,
        "status": HISTORY_STATUS[run.status] if history else run.status,
        "type": run.type,
        "direction": run.direction,
        "scope": run.scope,
        "dryRun": run.dry_run,
        "statistics": run.statistics,
        "errors": run.errors,
        "conflicts": run.conflicts,
        "duration": human(seconds),
        "triggeredBy": by,
    }
    if run.message:
        out["message"] = run.message
    if not history and run.plan is not None:
        out["plan"] = run.plan
    return out


async def get_run(svc: Services, identity: Identity, integration_id: str, run_id: str) -> Any:
    """The run (a row of ``sync_runs``) of one of the caller's organisation's
    integrations: one query, since a run carries its organisation (clients poll this
    while a run goes, and the poll shares the process with the run)."""
    async with svc.db.connect() as c:
        run = (await c.execute(_GET_RUN, {"run": run_id, "integration": integration_id, "org": identity.org_id})).first()
    if run is None:
        await get_owned(svc, identity, integration_id)  # which of the two is not found
        raise ApiError("NOT_FOUND", f"sync {run_id!r} not found", field="syncId")
    return run


async def history(
    svc: Services, integration_id: str, *, limit: int, page: int, status: str | None,
    start: str | None, end: str | None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    if not 1 <= limit <= 500:
        raise validation_error("limit", "must be between 1 and 500")
    if page < 1:
        raise validation_error("page", "must be 1 or more")
    query = select(SyncRun).where(SyncRun.integration_id == integration_id)
    if status is not None:
        stored = {"success": "completed", "error": "failed", "partial": "partial"}.get(status)
        if stored is None:
            raise validation_error("status", "must be one of success, error, partial")
        query = query.where(SyncRun.status == stored)
    for name, raw in (("startDate", start), ("endDate", end)):
        if raw is None:
            continue
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise validation_error(name, f"{raw!r} is not an ISO 8601 date or date-time") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if name == "endDate" and len(raw) == 10:  # a bare date means the whole day
            value += timedelta(days=1)
        query = query.where(SyncRun.started_at >= value) if name == "startDate" else query.where(SyncRun.started_at < value)
    async with svc.db.session() as s:
        total = await s.scalar(select(func.count()).select_from(query.subquery())) or 0
        runs = (await s.scalars(query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                                .offset((page - 1) * limit).limit(limit))).all()
    meta = {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)}
    return [run_view(r, history=True) for r in runs], meta


# The integration view's figures (statistics_for), built once: the view is asked for
# often, and building these costs more CPU than running them.
_IDS = bindparam("ids", expanding=True)
_LINK_COUNTS = (select(SyncLink.integration_id, func.count()).where(SyncLink.integration_id.in_(_IDS))
                .group_by(SyncLink.integration_id))
_RUN_FIGURES = (select(SyncRun.integration_id,
                       func.sum(case((SyncRun.status == "completed", 1), else_=0)),
                       func.sum(case((SyncRun.status.in_(FINISHED), 1), else_=0)),
                       func.sum(SyncRun.error_count))
                .where(SyncRun.integration_id.in_(_IDS), _REAL).group_by(SyncRun.integration_id))
# Each integration's last finished run: its completion time, then its duration.
_LATEST = (select(SyncRun.integration_id, func.max(SyncRun.completed_at).label("at"))
           .where(SyncRun.integration_id.in_(_IDS), _REAL).group_by(SyncRun.integration_id).subquery())
_LAST_DURATIONS = (select(SyncRun.integration_id, SyncRun.duration_ms)
                   .join(_LATEST, (SyncRun.integration_id == _LATEST.c.integration_id)
                         & (SyncRun.completed_at == _LATEST.c.at))
                   .where(_REAL))


async def statistics_for(svc: Services, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The integration view's ``statistics`` for calendar integrations, in three
    queries whatever their number."""
    if not ids:
        return {}
    params = {"ids": list(ids)}
    async with svc.db.connect() as s:  # reads only: no transaction
        counts = dict((await s.execute(_LINK_COUNTS, params)).all())
        agg = (await s.execute(_RUN_FIGURES, params)).all()
        durations = dict((await s.execute(_LAST_DURATIONS, params)).all())
    out = {}
    for integration_id in ids:
        row = next((r for r in agg if r[0] == integration_id), None)
        finished = int(row[2] or 0) if row else 0
        ms = durations.get(integration_id)
        out[integration_id] = {
            "eventsSynced": int(counts.get(integration_id, 0)),
            "lastSyncDuration": human(ms / 1000, compact=True) if ms is not None else None,
            "errorCount": int(row[3] or 0) if row else 0,
            "successRate": round(int(row[1] or 0) / finished, 4) if finished else None,
        }
    return out

