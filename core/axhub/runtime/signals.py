"""Domain signals: ``eventCreated``, ``eventUpdated``, ``eventDeleted``, ``attendanceUpdated``,
``syncCompleted``, ``syncFailed``, ``integrationError``.

A signal is written to the outbox (``signal_outbox``) in the transaction of the change
that raised it; once that transaction commits, every plugin hears it through the
``notify`` broadcast, in the background, so that a slow receiver never holds up the API
call that caused it. A crash between the commit and the broadcast loses nothing: rows
never marked dispatched are broadcast again at start-up (and by the delivery worker's
sweep), with the same notification id, which plugins dedupe on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database, SignalOutbox
from ..db.batch import GroupCommit
from ..ids import new_id
from ..types import Notification
from .tasks import TaskSet

log = logging.getLogger("axhub.signals")

KINDS = (
    "eventCreated", "eventUpdated", "eventDeleted", "attendanceUpdated",
    "syncCompleted", "syncFailed", "integrationError",
    # Notices, each sent once (a dedupe key, runtime/once.py): by the scheduler's jobs
    # (axhub/scheduler/reminders.py, reports.py) and after a sync run (axhub/sync/notices.py):
    "eventReminder", "attendanceAlert", "weeklyReport", "syncErrorNotification", "syncSuccessNotification",
)
_PENDING = "axhub.signals"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Signals:
    def __init__(self, hub, tasks: TaskSet, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.hub = hub
        self.tasks = tasks
        self.db = db
        self.clock = clock
        # Bursts of signals share their "dispatched" writes (one transaction for many).
        self._marks = GroupCommit(self._mark)

    def emit(self, session: AsyncSession, kind: str, org_id: str, data: dict[str, Any], *,
             dedupe_key: str | None = None) -> Notification:
        """Record ``kind`` in ``session``'s transaction; it is broadcast once that commits
        (and forgotten if it rolls back)."""
        assert kind in KINDS, kind
        notification = Notification(kind=kind, org_id=org_id, data=data, dedupe_key=dedupe_key,
                                    id=new_id("sig"), at=self.clock())
        session.add(SignalOutbox(id=notification.id, org_id=org_id, kind=kind, data=data,
                                 created_at=notification.at, dispatched_at=None))
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            sync = session.sync_session
            event.listen(sync, "after_commit", self._committed)
            event.listen(sync, "after_rollback", lambda s: s.info.pop(_PENDING, None))
        pending.append(notification)
        return notification

    def _committed(self, sync_session) -> None:
        # Runs inside the commit, on the event loop's thread: only schedule work here.
        for notification in sync_session.info.pop(_PENDING, None) or ():
            self.tasks.spawn(self.dispatch(notification), name=f"notify-{notification.kind}")

    async def dispatch(self, notification: Notification) -> None:
        results = await self.hub.broadcast("notify", notification=notification)
        failed = False
        for plugin, outcome in results.items():
            if isinstance(outcome, BaseException):
                failed = True
                log.warning("notify %s via %s failed: %s", notification.kind, plugin, outcome)
        if failed:  # left in the outbox: the sweep broadcasts it again
            return
        await self._marks.submit(notification.id)

    async def _mark(self, ids: list[str]) -> list[None]:
        async with self.db.session() as s, s.begin():
            await s.execute(update(SignalOutbox).where(SignalOutbox.id.in_(ids)).values(dispatched_at=self.clock()))
        return [None] * len(ids)

    async def redispatch(self, older_than: float = 0.0, limit: int = 1000) -> int:
        """Broadcast again what was committed but never marked dispatched (a crash, a
        failing plugin) and is at least ``older_than`` seconds old."""
        cutoff = self.clock() - timedelta(seconds=older_than)
        async with self.db.session() as s:
            rows = (await s.scalars(
                select(SignalOutbox).where(SignalOutbox.dispatched_at.is_(None), SignalOutbox.created_at <= cutoff)
                .order_by(SignalOutbox.created_at).limit(limit)
            )).all()
        for row in rows:
            await self.dispatch(Notification(kind=row.kind, org_id=row.org_id, data=row.data, id=row.id, at=row.created_at))
        return len(rows)
