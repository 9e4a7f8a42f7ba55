"""Syncs on request: a plugin asks for one of its integrations to be synced soon
(``ctx.syncs.request``), typically from ``notify`` when an Attendance-X event changed.

A request is a one-off schedule in the hub's scheduler (APScheduler), with the id
``sync-request:{integrationId}``, due ``AXHUB_SYNC_REQUEST_DELAY`` seconds later (2 by
default). That gives, with nothing new to run:

- a debounce: requests while one is waiting join it (nothing is added), so a burst of
  edits is one run, at most the delay after the first;
- one run for several processes: on PostgreSQL the schedule lives in the shared data
  store and one process fires it; the processes that only serve HTTP
  (``AXHUB_SCHEDULER=0``) add requests that the others run;
- the run is an ordinary sync run (``type: automatic``, ``triggeredBy: {"name":
  "sync_request", "reason": …}``): history, statistics, the one-run-at-a-time lock.

A busy integration (a run is going: a 409) is not a lost request: if the running run
began after the request fired it sees the change already; otherwise the request waits
for it to end and starts its own, for up to ``AXHUB_SYNC_REQUEST_PATIENCE`` seconds
(600). Requests are a shortcut, not the record: the engine works from the events'
change log, so whatever a dropped request (a process killed while it waited, an
in-memory store lost at restart) would have done, the integration's next run does —
its scheduled one (``autoSync``/``syncInterval``) or the next request's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..db import Integration, SyncRun
from ..errors import ApiError
from ..sync.options import SyncIn
from ..sync.runs import start
from .current import services_of_current_job

if TYPE_CHECKING:
    from ..runtime.services import Services
    from ..types import Connection

log = logging.getLogger("axhub.sync")

TASK = "axhub.sync-request"
PREFIX = "sync-request:"
TRIGGERED_BY = "sync_request"
RETRY_MAX = 30.0  # the longest pause between two tries at a busy integration


def now() -> datetime:
    return datetime.now(timezone.utc)


def _seconds(svc: "Services", name: str, default: float) -> float:
    return float(svc.config.env.get(name) or default)


async def request_sync(svc: "Services", integration_id: str, reason: str = "") -> bool:
    """Have ``integration_id`` synced soon (see the module's docstring). False when this
    hub has no scheduler to hold the request (it was not started)."""
    aps = svc.scheduler.aps
    if aps is None:
        return False
    from apscheduler import ConflictPolicy
    from apscheduler.triggers.date import DateTrigger

    # Stored with the task (by reference, "axhub.scheduler.triggers:fire"), so any process
    # sharing the data store can run it; writes only when the task is new or changed.
    await aps.configure_task(TASK, func=fire, job_executor="async", max_running_jobs=None)
    sid = PREFIX + integration_id
    waiting = await aps.data_store.get_schedules({sid})
    if waiting and waiting[0].next_fire_time is not None:
        # A request not fired yet covers this one, and keeps its time (a stream of
        # changes cannot put the run off for ever).
        return True
    delay = _seconds(svc, "AXHUB_SYNC_REQUEST_DELAY", 2.0)
    # A fired request's schedule stays in the store (next fire: none) until APScheduler
    # cleans up: replaced by this one.
    await aps.add_schedule(
        TASK, DateTrigger(now() + timedelta(seconds=delay)), id=sid,
        args=(integration_id, reason[:200]), job_executor="async",
        # Late is better than never: a request due while no process ran still runs.
        misfire_grace_time=None, conflict_policy=ConflictPolicy.replace,
    )
    return True


async def fire(integration_id: str, reason: str = "") -> str:
    """What the scheduler runs for a request (found by reference)."""
    return await run_requested(services_of_current_job(), integration_id, reason)


async def _started_at(svc: "Services", run_id: str | None) -> datetime | None:
    if not run_id:
        return None
    async with svc.db.session() as s:
        at = await s.scalar(select(SyncRun.started_at).where(SyncRun.id == run_id))
    if at is not None and at.tzinfo is None:  # SQLite gives naive UTC back
        at = at.replace(tzinfo=timezone.utc)
    return at


async def run_requested(svc: "Services", integration_id: str, reason: str = "",
                        since: datetime | None = None) -> str:
    """Start the integration's sync for a request that came in before ``since`` (default:
    now). Returns ``started``, ``covered`` (a run that began after ``since`` has it),
    ``busy`` (out of patience: the next run has it) or ``skipped``."""
    since = since or now()
    pause = _seconds(svc, "AXHUB_SYNC_REQUEST_RETRY", 1.0)
    deadline = time.monotonic() + _seconds(svc, "AXHUB_SYNC_REQUEST_PATIENCE", 600.0)
    while True:
        async with svc.db.session() as s:
            row = await s.get(Integration, integration_id)
        if row is None or row.status == "disconnected" or (
                row.status == "error" and row.last_error == "INVALID_CREDENTIALS"):
            return "skipped"  # nothing to do until someone connects it again
        try:
            started = await start(svc, row, SyncIn(), type_="automatic",
                                  triggered_by={"name": TRIGGERED_BY, "reason": reason})
        except ApiError as exc:
            if exc.code != "CONFLICT":
                log.warning("requested sync of %s not started: %s", integration_id, exc.message)
                return "skipped"
            holder = (exc.details or {}).get("syncId")
            began = await _started_at(svc, holder)
            # A run started after the request fired reads the change log after the change.
            if began is not None and began >= since:
                return "covered"
            if time.monotonic() + pause > deadline:
                log.info("requested sync of %s: still busy (%s); its next run takes it", integration_id, holder)
                return "busy"
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)
            continue
        log.info("requested sync %s of %s (%s)", started["syncId"], integration_id, reason or "no reason given")
        return "started"


class SyncRequests:
    """``ctx.syncs``: a provider's way to have its integrations synced without waiting
    for their schedule.

    ``integrations(org_id)`` lists the organisation's connected integrations of this
    provider; ``request(connection, reason=…)`` asks for one of them to be synced soon
    (debounced, one run for a burst, a busy integration retried — the module's
    docstring). Call it from ``notify`` for the changes the integration's settings care
    about; ``reason`` is shown in the run's ``triggeredBy``.
    """

    def __init__(self, svc: "Services", slug: str) -> None:
        self.svc = svc
        self.slug = slug

    async def integrations(self, org_id: str) -> list["Connection"]:
        return await self.svc.deliveries.integrations(self.slug, org_id)

    async def request(self, connection: "Connection", *, reason: str = "") -> bool:
        if connection.provider != self.slug:
            raise ValueError(f"{self.slug} cannot request syncs of {connection.provider} integrations")
        return await request_sync(self.svc, connection.id, reason)
