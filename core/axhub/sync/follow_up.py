"""The follow-up of a meeting provider's run: the linked events that have ended, handed
to the adapter for attendance, and the engine's side of :class:`axhub.sync.FollowUp`
that records what it reports."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import or_, select, update

from ..db import Event, SyncLink
from ..errors import ApiError
from .adapter import LinkedEvent
from .content import event_data


class FollowingUp:
    """The :class:`~axhub.sync.engine.Engine`'s follow-up step (a part of it)."""

    async def _follow_up(self) -> None:
        """Hand the adapter the linked events that have ended (within the run's date
        range), and those whose meeting the provider said ended (``options.ended``:
        it may end before its event's scheduled end), for attendance; what it reports
        lands in ``statistics.attendance``."""
        now = datetime.now(timezone.utc)
        self.follow = FollowUpRecorder(self)
        query = (
            select(Event, SyncLink.external_id)
            .join(SyncLink, (SyncLink.event_id == Event.id) & (SyncLink.integration_id == self.integration_id))
            .where(Event.org_id == self.org_id, Event.deleted_at.is_(None),
                   or_(Event.end_at <= now, SyncLink.external_id.in_(sorted(self.options.ended)))
                   if self.options.ended else Event.end_at <= now)
        )
        if self.options.start is not None:
            query = query.where(Event.end_at > self.options.start)
        if self.options.end is not None:
            query = query.where(Event.start_at < self.options.end)
        async with self.db.autocommit() as s:
            rows = (await s.execute(query.order_by(Event.end_at, Event.id))).all()
        linked = [LinkedEvent(event_id=e.id, external_id=external_id, data=event_data(e), meeting=e.meeting)
                  for e, external_id in rows]
        self.follow.checked = len(linked)
        if linked:
            await self.adapter.follow_up(linked, self.follow)  # type: ignore[attr-defined]
            await self._tick()


class FollowUpRecorder:
    """The engine's side of :class:`axhub.sync.FollowUp`."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.force = engine.options.force_update
        self.checked = 0
        self.recorded = 0
        self.unchanged = 0
        self.pending_events: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []

    async def record_attendance(self, event_id: str, records) -> bool:
        if self.engine.attendance is None:
            raise RuntimeError("this engine records no attendance")
        try:
            changed = bool(await self.engine.attendance(event_id, list(records)))
        except ApiError:  # the event was deleted meanwhile: nothing to record
            changed = False
        if changed:
            self.recorded += 1
        else:
            self.unchanged += 1
        return changed

    async def update_meeting(self, event_id: str, meeting: dict[str, Any] | None) -> None:
        async with self.engine.db.session() as s, s.begin():
            await s.execute(update(Event).where(Event.id == event_id, Event.org_id == self.engine.org_id)
                            .values(meeting=meeting))

    def pending(self, event_id: str, reason: str) -> None:
        self.pending_events.append({"eventId": event_id, "reason": reason})

    def failed(self, event_id: str, code: str, message: str) -> None:
        self.engine.errors.append({"eventId": event_id, "action": "attendance", "error": message, "code": code})

    def note(self, event_id: str, **details: Any) -> None:
        self.details.append({"eventId": event_id, **details})

    def summary(self) -> dict[str, Any]:
        return {"eventsChecked": self.checked, "recorded": self.recorded, "unchanged": self.unchanged,
                "pending": self.pending_events[:100], "details": self.details[:100]}
