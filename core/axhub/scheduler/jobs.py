"""What the scheduler runs: automatic syncs, event reminders, attendance alerts, the
weekly report, token refresh, retries of failed deliveries, upkeep.

Each job is a plain coroutine taking the hub's Services and the moment it acts for
(``at``), so that tests and operators run it for any moment through :func:`run_job`
(``axhub jobs run NAME --at …``); APScheduler calls the small wrappers at the bottom,
which find the Services of the hub whose scheduler fired them. The jobs themselves
live beside this module (:mod:`.reminders`, :mod:`.reports`, :mod:`.upkeep`); every
notification goes through :mod:`axhub.runtime.once`, so it is sent once however many
times a job runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from ..db import Integration, ScheduledFire
from ..errors import ApiError
from ..sync.options import SyncIn
from ..sync.runs import start
from .current import services_of_current_job
from .grid import next_fire
from .reminders import attendance_alerts, reminders
from .reports import weekly_report
from .upkeep import delivery_retries, push_upkeep, token_refresh, upkeep
from ..push.mode import defers

if TYPE_CHECKING:
    from ..runtime.services import Services

log = logging.getLogger("axhub.scheduler")


def now() -> datetime:
    return datetime.now(timezone.utc)


# -- automatic sync ----------------------------------------------------------------------

async def claim_fire(svc: "Services", integration_id: str, fire_at: datetime, by: str) -> bool:
    """True for the first caller to start the integration's sync for ``fire_at`` (or a
    later time); False for a second fire of the same time, whoever fires it."""
    async with svc.db.session() as s, s.begin():
        moved = await s.execute(update(ScheduledFire)
                                .where(ScheduledFire.integration_id == integration_id, ScheduledFire.fire_at < fire_at)
                                .values(fire_at=fire_at, claimed_by=by[:200]))
    if moved.rowcount == 1:
        return True
    try:
        async with svc.db.session() as s, s.begin():
            await s.execute(insert(ScheduledFire).values(integration_id=integration_id, fire_at=fire_at, claimed_by=by[:200]))
    except IntegrityError:
        return False
    return True


async def sync_due(svc: "Services", integration_id: str, fire_at: datetime) -> str:
    """Run the integration's automatic sync due at ``fire_at`` (recorded as ``automatic``,
    triggered by ``scheduled_sync``), unless it is not due any more, this fire time was
    already handled, or a run is going. Returns what happened."""
    sched = svc.scheduler
    async with svc.db.session() as s:
        row = await s.get(Integration, integration_id)
    if row is None or sched.interval_of(row) is None:
        await sched.forget(integration_id)  # an orphan: its integration went away
        sched.counters["skipped"] += 1
        return "skipped"
    if row.status == "error" and row.last_error == "INVALID_CREDENTIALS":
        sched.counters["skipped"] += 1  # nothing to do until someone reconnects it
        return "skipped"
    if await defers(svc, row, fire_at):
        sched.counters["push"] += 1  # push carries its changes; the safety poll comes later
        return "push"
    if not await claim_fire(svc, integration_id, fire_at, sched.identity):
        log.debug("scheduled sync of %s due %s already handled: second fire ignored", integration_id, fire_at)
        sched.counters["duplicate"] += 1
        return "duplicate"
    try:
        started = await start(svc, row, SyncIn(), type_="automatic", triggered_by="scheduled_sync", wait=True)
    except ApiError as exc:
        if exc.code != "CONFLICT":
            raise
        log.debug("scheduled sync of %s due %s: a run is going (%s)", integration_id, fire_at, exc.message)
        sched.counters["busy"] += 1
        return "busy"
    sched.counters["started"] += 1
    log.info("scheduled sync %s of %s (due %s) ran on %s", started["syncId"], integration_id,
             fire_at.isoformat(), sched.identity)
    return "started"


# -- entry points ------------------------------------------------------------------------

JOBS: dict[str, Callable[["Services", datetime], Awaitable[int]]] = {
    "reminders": reminders,
    "attendance-alerts": attendance_alerts,
    "weekly-report": weekly_report,
    "token-refresh": token_refresh,
    "delivery-retries": delivery_retries,
    "upkeep": upkeep,
    "push-upkeep": push_upkeep,
}


async def run_job(svc: "Services", name: str, at: datetime | None = None, *, integration_id: str | None = None) -> Any:
    """Run one job now, acting for the moment ``at`` (default: now). ``sync`` runs
    ``integration_id``'s automatic sync as due at ``at``."""
    at = at or now()
    if name == "sync":
        if not integration_id:
            raise ValueError("the sync job needs an integration id")
        return await sync_due(svc, integration_id, at)
    try:
        job = JOBS[name]
    except KeyError:
        raise ValueError(f"unknown job {name!r}; jobs: sync, {', '.join(JOBS)}") from None
    return await job(svc, at)


def _fired_at() -> datetime:
    from apscheduler import current_job

    job = current_job.get(None)
    return job.scheduled_fire_time if job is not None and job.scheduled_fire_time else now()


async def scheduled_sync(integration_id: str) -> str:
    return await sync_due(services_of_current_job(), integration_id, _fired_at())


# APScheduler finds these by reference ("axhub.scheduler.jobs:fire_reminders").
async def fire_reminders() -> int:
    return await reminders(services_of_current_job(), now())


async def fire_attendance_alerts() -> int:
    return await attendance_alerts(services_of_current_job(), now())


async def fire_weekly_report() -> int:
    return await weekly_report(services_of_current_job(), now())


async def fire_token_refresh() -> int:
    return await token_refresh(services_of_current_job(), now())


async def fire_delivery_retries() -> int:
    return await delivery_retries(services_of_current_job(), now())


async def fire_upkeep() -> int:
    return await upkeep(services_of_current_job(), now())


async def fire_push_upkeep() -> int:
    return await push_upkeep(services_of_current_job(), now())


def _every(seconds: int):
    from apscheduler.triggers.interval import IntervalTrigger

    def make():
        # On a grid from the epoch: the same schedule whichever process writes it.
        return IntervalTrigger(seconds=seconds, start_time=next_fire("", seconds, now()))

    return make


PERIODIC: dict[str, tuple[Callable[[], Awaitable[int]], Callable[[], Any]]] = {
    "reminders": (fire_reminders, _every(60)),
    "attendance-alerts": (fire_attendance_alerts, _every(300)),
    # Every quarter of an hour, not a Monday 08:00 cron: each organisation's Monday
    # 08:00 comes in its own time zone, and every zone's offset is whole quarters.
    "weekly-report": (fire_weekly_report, _every(900)),
    "token-refresh": (fire_token_refresh, _every(60)),
    "delivery-retries": (fire_delivery_retries, _every(60)),
    "upkeep": (fire_upkeep, _every(86400)),
    "push-upkeep": (fire_push_upkeep, _every(60)),
}

__all__ = ["JOBS", "PERIODIC", "claim_fire", "run_job", "sync_due"]
