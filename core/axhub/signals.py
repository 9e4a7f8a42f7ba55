"""Domain signals: ``eventCreated``, ``eventUpdated``, ``eventDeleted``, ``attendanceUpdated``,
``syncCompleted``, ``syncFailed``, ``integrationError``.

A change is committed first, then signalled: every plugin hears it through the ``notify``
broadcast, in the background, so that a slow receiver never holds up the API call
that caused it.
"""

from __future__ import annotations

import logging
from typing import Any

from .tasks import TaskSet
from .types import Notification

log = logging.getLogger("axhub.signals")

KINDS = (
    "eventCreated", "eventUpdated", "eventDeleted", "attendanceUpdated",
    "syncCompleted", "syncFailed", "integrationError",
)


class Signals:
    def __init__(self, hub, tasks: TaskSet) -> None:
        self.hub = hub
        self.tasks = tasks

    def emit(self, kind: str, org_id: str, data: dict[str, Any], *, dedupe_key: str | None = None) -> None:
        assert kind in KINDS, kind
        notification = Notification(kind=kind, org_id=org_id, data=data, dedupe_key=dedupe_key)
        self.tasks.spawn(self._deliver(notification), name=f"notify-{kind}")

    async def _deliver(self, notification: Notification) -> None:
        results = await self.hub.broadcast("notify", notification=notification)
        for plugin, outcome in results.items():
            if isinstance(outcome, BaseException):
                log.warning("notify %s via %s failed: %s", notification.kind, plugin, outcome)
