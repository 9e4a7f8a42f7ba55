"""The one-run-at-a-time lock of an integration's sync: a lease in ``sync_states``
taken by one conditional UPDATE, renewed while the run goes, released with the run's
final record; a lease whose holder died is taken over, and a process that starts closes
the runs of processes gone (``close_orphans``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from ..db import EventChange, SyncRun, SyncState
from ..runtime import node
from ..runtime.services import Services
from .options import FINISHED


log = logging.getLogger("axhub.sync")

INTERRUPTED = "interrupted: the process running it stopped"


def now() -> datetime:
    return datetime.now(timezone.utc)


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
                 lock_node=bindparam("node"), updated_at=bindparam("at"))
         .returning(_STATE.cursor, _STATE.change_mark, _NEWEST_CHANGE.label("newest_change"),
                    _LAST_MS.label("last_ms")))
_TAKE_FREE = _TAKE.where(_STATE.lock_until.is_(None))
_TAKE_EXPIRED = _TAKE.where(_STATE.lock_until < bindparam("at"))
RECORD = insert(SyncRun.__table__)
RUNNING = (update(SyncRun.__table__).where(_RUNS.id == bindparam("run"), _RUNS.status == "started")
            .values(status="running"))
GET_RUN = select(SyncRun.__table__).where(_RUNS.id == bindparam("run"), _RUNS.integration_id == bindparam("integration"),
                                           _RUNS.org_id == bindparam("org"))


async def acquire(svc: Services, integration_id: str, org_id: str, run_id: str) -> tuple[str | None, Any]:
    """Take the integration's sync lock for ``run_id``: (None, a row of the cursor and
    change mark the lock was taken with, the organisation's newest local change and the
    last finished run's ``duration_ms``), or (the id of the run holding it, None). A
    lock whose holder stopped renewing it (its process died) is taken over, and that
    run is marked failed."""
    at = now()
    take = {"integration": integration_id, "org": org_id, "owner": run_id, "at": at, "node": node.identity(),
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
                lock_node=None, running_sync_id=None, updated_at=at))
        # Expired: its holder stopped renewing it (its process died). Otherwise it was
        # released meanwhile, or the state row is new.
        expired = state is not None and state.lock_until is not None
        taken = (await s.execute(_TAKE_EXPIRED if expired else _TAKE_FREE, take)).first()
        if taken is None:  # another run took it in between
            held = (await s.execute(select(SyncState.running_sync_id)
                                    .where(SyncState.integration_id == integration_id))).scalar()
            return held or "unknown", None
        if expired and state.running_sync_id:
            await s.execute(_interrupted(state.running_sync_id, at))
    return None, taken


def _interrupted(run_id: str, at: datetime) -> Any:
    return (update(SyncRun).where(SyncRun.id == run_id, SyncRun.status.in_(("started", "running")))
            .values(status="failed", message=INTERRUPTED, completed_at=at))


async def close_orphans(svc: Services) -> int:
    """Close the runs nobody is running any more, at a process's start: each whose
    process is gone from this machine (``runtime.node``), or whose lease lapsed (its
    holder stopped renewing it, wherever it ran), is marked failed as interrupted and its
    lock released, so that the next sync starts at once. A run a live process owns is
    never touched: each release is conditional on the lock as it was read, lease
    included. Returns how many were closed."""
    at = now()
    async with svc.db.connect() as s:
        held = (await s.execute(select(SyncState.integration_id, SyncState.lock_owner, SyncState.lock_node,
                                       SyncState.lock_until, SyncState.running_sync_id)
                                .where(SyncState.lock_owner.is_not(None)))).all()
    closed = 0
    for lock in held:
        free = update(SyncState).where(SyncState.integration_id == lock.integration_id,
                                       SyncState.lock_owner == lock.lock_owner)
        if lock.lock_until is not None and lock.lock_until < at:
            free = free.where(SyncState.lock_until < at)  # a renewal meanwhile keeps it
        elif node.gone(lock.lock_node):
            free = free.where(SyncState.lock_node == lock.lock_node)
        else:
            continue
        async with svc.db.session() as s, s.begin():
            freed = await s.execute(free.values(lock_owner=None, lock_until=None, lock_node=None, running_sync_id=None,
                                                updated_at=at))
            if freed.rowcount == 1 and lock.running_sync_id:
                await s.execute(_interrupted(lock.running_sync_id, at))
        if freed.rowcount:
            closed += 1
            log.warning("sync %s of %s closed as interrupted: the process running it stopped",
                        lock.running_sync_id, lock.integration_id)
    return closed


async def renew(svc: Services, integration_id: str, run_id: str) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(update(SyncState).where(SyncState.integration_id == integration_id, SyncState.lock_owner == run_id)
                        .values(lock_until=now() + timedelta(seconds=svc.config.sync_lock_seconds)))


def release_statement(integration_id: str, run_id: str, **state: Any) -> Any:
    return (update(SyncState).where(SyncState.integration_id == integration_id, SyncState.lock_owner == run_id)
            .values({"updated_at": now(), **state, "lock_owner": None, "lock_until": None, "lock_node": None,
                     "running_sync_id": None}))


async def release(svc: Services, integration_id: str, run_id: str) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(release_statement(integration_id, run_id))
