"""The plan of a run: for each remote change and each local one, what to create,
update or delete on which side — echoes of our own writes skipped, deletions crossed
over, and a change on both sides decided by the later edit and recorded as a conflict."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from ..db import Event, SyncLink
from .adapter import EventData, RemoteEvent, WriteOp
from .content import EPOCH, event_data, normalise, same_content
from .options import INBOUND, OUTBOUND


@dataclasses.dataclass
class Plan:
    inbound_create: list[tuple[RemoteEvent, EventData]] = dataclasses.field(default_factory=list)
    inbound_update: list[tuple[Event, RemoteEvent, EventData]] = dataclasses.field(default_factory=list)
    inbound_delete: list[Event] = dataclasses.field(default_factory=list)
    relink: list[tuple[str, RemoteEvent, int]] = dataclasses.field(default_factory=list)
    unlink: list[str] = dataclasses.field(default_factory=list)
    outbound: list[WriteOp] = dataclasses.field(default_factory=list)
    conflicts: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def item(kind, op_event, external, title):
            return {"action": kind, "eventId": op_event, "externalId": external, "title": title}

        out = {
            "attendanceX": {
                "create": [item("create", None, r.external_id, d.title) for r, d in self.inbound_create],
                "update": [item("update", e.id, r.external_id, d.title) for e, r, d in self.inbound_update],
                "delete": [item("delete", e.id, None, e.title) for e in self.inbound_delete],
            },
            "external": {k: [item(k, op.event_id, op.external_id, op.data.title if op.data else None)
                             for op in self.outbound if op.kind == k] for k in ("create", "update", "delete")},
            "conflicts": self.conflicts,
        }
        return out


class Planning:
    """The :class:`~axhub.sync.engine.Engine`'s planning (a part of it: it fills the
    run's ``plan`` from what :class:`~axhub.sync.reading.Reading` loaded)."""

    def _in_window(self, data: EventData, now: datetime) -> bool:
        if self._window is None:  # fixed for the run: computed once, asked per event
            self._window = self.options.window(now)
        start, end = self._window
        return (start is None or data.end > start) and (end is None or data.start < end)

    def _plan(self, remote: dict[str, RemoteEvent], events: dict[str, Event], by_event: dict[str, SyncLink],
              by_external: dict[str, SyncLink]) -> None:
        self._by_event = by_event  # the links as stored: inbound updates change them in place
        now = datetime.now(timezone.utc)
        inbound = self.options.direction in INBOUND
        outbound = self.options.direction in OUTBOUND
        plan = self.plan
        handled: set[str] = set()

        for item in remote.values():
            if item.external_id in self.streamed:
                continue
            link = by_external.get(item.external_id)
            event = events.get(link.event_id) if link else None
            if link is None and item.local_id and item.local_id in events and item.local_id not in by_event:
                # Ours, but the link was never saved (a run died after the provider answered).
                # Treated as linked but never synced: equal content re-links it below, a
                # difference is a conflict decided by time — never a duplicate.
                event = events[item.local_id]
                link = SyncLink(event_id=event.id, external_id=item.external_id, etag=None, local_version=0)
            if item.deleted:
                if event is not None:
                    handled.add(event.id)
                if event is None or event.deleted_at is not None:
                    if link is not None:
                        plan.unlink.append(link.event_id)
                    continue
                local_changed = link is not None and event.version > link.local_version
                remote_time = item.updated or EPOCH
                if outbound and (not inbound or (local_changed and event.updated_at > remote_time)):
                    if inbound:
                        plan.conflicts.append(self._conflict(event, item, "attendanceX", "deleted remotely, edited locally later"))
                    plan.unlink.append(event.id)
                    data = event_data(event)
                    if self.adapter.exports(data) and self._in_window(data, now):
                        plan.outbound.append(WriteOp("create", event.id, None, data, event.version))
                elif inbound:
                    plan.inbound_delete.append(event)
                continue
            if item.data is None:
                continue
            data = normalise(item.data)
            if link is not None and item.etag and item.etag == link.etag and not self.options.force_update:
                self.stats["echo"] += 1  # our own write coming back, or nothing new
                continue
            if not self._in_window(data, now) and (event is None or not self._in_window(event_data(event), now)):
                continue
            if event is None:
                if inbound and link is None:
                    plan.inbound_create.append((item, data))
                continue
            if event.deleted_at is not None:
                continue  # the local deletion is pushed below
            # From here on the remote change decides for this event (an echo, or a change
            # while the local side was deleted, leaves it to the local pass below).
            handled.add(event.id)
            local = event_data(event)
            if same_content(local, data, self.fields):
                plan.relink.append((event.id, item, event.version))
                self.stats["unchanged"] += 1
                continue
            local_changed = link is None or event.version > link.local_version or self.options.force_update
            if local_changed and inbound and outbound:
                remote_time = item.updated or EPOCH
                winner = "attendanceX" if event.updated_at >= remote_time or self.options.force_update else "external"
                plan.conflicts.append(self._conflict(event, item, winner, "changed on both sides"))
                if winner == "attendanceX":
                    plan.outbound.append(WriteOp("update", event.id, item.external_id, local))
                else:
                    plan.inbound_update.append((event, item, data))
            elif inbound:
                plan.inbound_update.append((event, item, data))
            elif outbound:
                plan.outbound.append(WriteOp("update", event.id, item.external_id, local))

        if not outbound:
            return
        for event in events.values():
            if event.id in handled:
                continue
            link = by_event.get(event.id)
            if event.deleted_at is not None:
                if link is not None:
                    plan.outbound.append(WriteOp("delete", event.id, link.external_id))
                continue
            data = event_data(event)
            wanted = self.adapter.exports(data) and self._in_window(data, now)
            if link is None:
                if wanted and self._creates(data):
                    plan.outbound.append(WriteOp("create", event.id, None, data, event.version))
            elif not self.adapter.exports(data):
                # A filter decides what Attendance-X sends, never what the provider's user
                # keeps: an event that came from this provider (an "external" event, say,
                # refused by an eventTypes filter once edited here) stays there, unsent.
                if event.source != self.source:
                    plan.outbound.append(WriteOp("delete", event.id, link.external_id))
            elif wanted and (event.version > link.local_version or self.options.force_update):
                plan.outbound.append(WriteOp("update", event.id, link.external_id, data))

    @staticmethod
    def _conflict(event: Event, item: RemoteEvent, winner: str, reason: str) -> dict[str, Any]:
        return {
            "eventId": event.id,
            "externalId": item.external_id,
            "title": event.title,
            "reason": reason,
            "winner": winner,
            "localUpdatedAt": event.updated_at.isoformat(),
            "remoteUpdatedAt": item.updated.isoformat() if item.updated else None,
        }
