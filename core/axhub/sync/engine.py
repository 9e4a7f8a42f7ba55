"""The sync engine: reconciles an organisation's Attendance-X events with one calendar.

One run:
1. lists what changed at the provider since the stored cursor (everything when there
   is none, when the provider says the cursor expired, or for ``forceUpdate``);
2. loads the local events and the link table (local id ↔ external id, the etag last
   seen, the event version last synced);
3. plans: new remote events become local ones, new local events are created remotely,
   changes flow the way the run's direction allows, deletions cross over, our own
   writes coming back are recognised by their etag and ignored (echo suppression), and
   when both sides changed the later modification wins, the conflict recorded;
4. writes — or, for a dry run, only reports the plan: local changes in bulk, one
   transaction per chunk with their links; remote changes in the adapter's batches,
   each batch's links saved as soon as the provider answered;
5. saves the new cursor last, so that a run killed anywhere is simply run again: links
   and the ids the hub stamps on the events it creates make every step idempotent.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

import msgspec
from sqlalchemy import delete, insert, or_, select, update

from ..db import Event, SyncLink, SyncState
from ..ids import new_id
from .adapter import Attendee, CalendarAdapter, CursorExpired, EventData, RemoteEvent, WriteOp, WriteResult

log = logging.getLogger("axhub.sync")

INBOUND = {"bidirectional", "external_to_attendance"}
OUTBOUND = {"bidirectional", "attendance_to_external"}
CHUNK = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True)
class SyncOptions:
    direction: str = "bidirectional"
    scope: str = "all"  # all | future | past
    force_update: bool = False
    dry_run: bool = False
    start: datetime | None = None
    end: datetime | None = None

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        start, end = self.start, self.end
        if self.scope == "future":
            start = max(start, now) if start else now
        elif self.scope == "past":
            end = min(end, now) if end else now
        return start, end

    @property
    def keeps_cursor(self) -> bool:
        """A run limited to a window must not move the cursor past changes it skipped."""
        return self.start is None and self.end is None and self.scope == "all"


def event_data(row: Event) -> EventData:
    return EventData(
        title=row.title,
        start=row.start_at,
        end=row.end_at,
        timezone=row.timezone,
        description=row.description,
        location=row.location,
        attendees=tuple(sorted((Attendee(a["email"], a.get("name"), a.get("role") or "attendee") for a in row.attendees),
                               key=lambda a: a.email)),
        private=row.private,
        type=row.type,
    )


def normalise(data: EventData) -> EventData:
    return msgspec.structs.replace(
        data,
        start=data.start.astimezone(timezone.utc),
        end=data.end.astimezone(timezone.utc),
        attendees=tuple(sorted(data.attendees, key=lambda a: a.email)),
    )


def same_content(local: EventData, remote: EventData) -> bool:
    """Equal on what the calendar carries: the remote side may not know the type, or
    may drop attendees' roles; neither is a change."""
    strip = lambda d: msgspec.structs.replace(d, type=None, attendees=tuple(Attendee(a.email, a.name) for a in d.attendees))  # noqa: E731
    return strip(local) == strip(remote)


def row_values(data: EventData) -> dict[str, Any]:
    return {
        "title": data.title[:500],
        "start_at": data.start,
        "end_at": data.end,
        "timezone": data.timezone,
        "description": data.description,
        "location": data.location,
        "attendees": [{"email": a.email, "name": a.name, "role": a.role} for a in data.attendees],
        "private": data.private,
    }


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


class Engine:
    """One run of the engine over one integration. ``progress`` is called with counters
    as the run goes, ``heartbeat`` keeps the run's lock alive."""

    def __init__(
        self,
        db,
        *,
        integration_id: str,
        org_id: str,
        adapter: CalendarAdapter,
        options: SyncOptions,
        progress: Callable[[dict[str, int]], Any] | None = None,
        heartbeat: Callable[[], Any] | None = None,
        source: str = "external",
    ) -> None:
        self.db = db
        self.integration_id = integration_id
        self.org_id = org_id
        self.adapter = adapter
        self.options = options
        self.progress = progress
        self.heartbeat = heartbeat
        self.source = source
        self.stats: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.plan = Plan()
        self.full = False

    async def _tick(self, **counts: int) -> None:
        self.stats.update(counts)
        if self.heartbeat is not None:
            await self.heartbeat()
        if self.progress is not None:
            await self.progress(self.summary())

    def summary(self) -> dict[str, Any]:
        s = self.stats
        created = s["inbound_created"] + s["outbound_created"]
        updated = s["inbound_updated"] + s["outbound_updated"]
        deleted = s["inbound_deleted"] + s["outbound_deleted"]
        return {
            "eventsProcessed": created + updated + deleted + s["unchanged"] + len(self.errors),
            "eventsCreated": created,
            "eventsUpdated": updated,
            "eventsDeleted": deleted,
            "errors": len(self.errors),
            "conflicts": len(self.plan.conflicts),
            "remoteChangesRead": s["remote_read"],
            "listRequests": s["list_requests"],
            "inbound": {"created": s["inbound_created"], "updated": s["inbound_updated"], "deleted": s["inbound_deleted"]},
            "outbound": {"created": s["outbound_created"], "updated": s["outbound_updated"], "deleted": s["outbound_deleted"]},
            "fullSync": self.full,
        }

    # -- 1. remote ---------------------------------------------------------------------
    async def _pull(self, cursor: str | None) -> tuple[dict[str, RemoteEvent], str | None]:
        self.full = cursor is None
        remote: dict[str, RemoteEvent] = {}
        new_cursor = None
        try:
            async for page in self.adapter.changes(cursor):
                for item in page.items:
                    remote[item.external_id] = item
                if page.cursor:
                    new_cursor = page.cursor
                await self._tick(remote_read=len(page.items), list_requests=1)
        except CursorExpired:
            if cursor is None:
                raise
            log.info("cursor of %s expired: full resync", self.integration_id)
            self.stats["cursor_expired"] += 1
            return await self._pull(None)
        return remote, new_cursor

    # -- 2. local ----------------------------------------------------------------------
    async def _load(self) -> tuple[dict[str, Event], dict[str, SyncLink], dict[str, SyncLink], str | None]:
        async with self.db.session() as s:
            state = await s.get(SyncState, self.integration_id)
            links = (await s.scalars(select(SyncLink).where(SyncLink.integration_id == self.integration_id))).all()
            linked = select(SyncLink.event_id).where(SyncLink.integration_id == self.integration_id)
            events = (await s.scalars(
                select(Event).where(Event.org_id == self.org_id, or_(Event.deleted_at.is_(None), Event.id.in_(linked)))
            )).all()
        by_event = {l.event_id: l for l in links}
        by_external = {l.external_id: l for l in links}
        return {e.id: e for e in events}, by_event, by_external, state.cursor if state else None

    # -- 3. plan -----------------------------------------------------------------------
    def _in_window(self, data: EventData, now: datetime) -> bool:
        start, end = self.options.window(now)
        return (start is None or data.end > start) and (end is None or data.start < end)

    def _plan(self, remote: dict[str, RemoteEvent], events: dict[str, Event], by_event: dict[str, SyncLink],
              by_external: dict[str, SyncLink]) -> None:
        now = datetime.now(timezone.utc)
        inbound = self.options.direction in INBOUND
        outbound = self.options.direction in OUTBOUND
        plan = self.plan
        handled: set[str] = set()

        for item in remote.values():
            link = by_external.get(item.external_id)
            event = events.get(link.event_id) if link else None
            if link is None and item.local_id and item.local_id in events:
                # Ours, but the link was never saved (a run died after the provider answered).
                event = events[item.local_id]
                if by_event.get(event.id) is None:
                    plan.relink.append((event.id, item, event.version))
                    link = SyncLink(event_id=event.id, external_id=item.external_id, etag=None, local_version=event.version)
            if event is not None:
                handled.add(event.id)
            if item.deleted:
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
                        plan.outbound.append(WriteOp("create", event.id, None, data))
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
            local = event_data(event)
            if same_content(local, data):
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
                if wanted:
                    plan.outbound.append(WriteOp("create", event.id, None, data))
            elif not self.adapter.exports(data):
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

    # -- 4. write ----------------------------------------------------------------------
    async def _write_local(self) -> None:
        plan, now = self.plan, datetime.now(timezone.utc)
        for chunk_start in range(0, len(plan.inbound_create), CHUNK):
            chunk = plan.inbound_create[chunk_start:chunk_start + CHUNK]
            rows, links = [], []
            for item, data in chunk:
                event_id = new_id("evt")
                rows.append({"id": event_id, "org_id": self.org_id, "type": data.type or "external", "organizer": None,
                             "meeting": None, "source": self.source, "version": 1, "created_at": now, "updated_at": now,
                             "deleted_at": None, **row_values(data)})
                links.append(self._link(event_id, item, 1, now))
            async with self.db.session() as s, s.begin():
                await s.execute(insert(Event), rows)
                await s.execute(insert(SyncLink), links)
            await self._tick(inbound_created=len(chunk))

        if plan.inbound_update or plan.inbound_delete or plan.relink or plan.unlink:
            async with self.db.session() as s, s.begin():
                links = []
                for event, item, data in plan.inbound_update:
                    version = event.version + 1
                    await s.execute(update(Event).where(Event.id == event.id, Event.org_id == self.org_id)
                                    .values(version=version, updated_at=now, **row_values(data)))
                    links.append(self._link(event.id, item, version, now))
                for event in plan.inbound_delete:
                    await s.execute(update(Event).where(Event.id == event.id, Event.org_id == self.org_id)
                                    .values(deleted_at=now, updated_at=now, version=event.version + 1))
                    await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                           SyncLink.event_id == event.id))
                links.extend(self._link(event_id, item, version, now) for event_id, item, version in plan.relink)
                await self._replace_links(s, links)
                if plan.unlink:
                    await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                           SyncLink.event_id.in_(plan.unlink)))
            await self._tick(inbound_updated=len(plan.inbound_update), inbound_deleted=len(plan.inbound_delete))

    def _link(self, event_id: str, item: RemoteEvent | WriteResult, version: int, now: datetime) -> dict[str, Any]:
        return {"integration_id": self.integration_id, "event_id": event_id, "external_id": item.external_id,
                "etag": item.etag, "local_version": version, "remote_updated": item.updated, "synced_at": now}

    async def _replace_links(self, s, links: list[dict[str, Any]]) -> None:
        """Upsert links in bulk. A link may move: after a crash the provider's event is
        found again under our id, and whatever held either side of it gives way."""
        for start in range(0, len(links), CHUNK):
            chunk = links[start:start + CHUNK]
            await s.execute(delete(SyncLink).where(
                SyncLink.integration_id == self.integration_id,
                SyncLink.event_id.in_([l["event_id"] for l in chunk]) | SyncLink.external_id.in_([l["external_id"] for l in chunk]),
            ))
            await s.execute(insert(SyncLink), chunk)

    async def _write_remote(self, events: dict[str, Event]) -> None:
        ops = self.plan.outbound
        size = max(1, self.adapter.batch_size)
        for start in range(0, len(ops), size):
            batch = ops[start:start + size]
            results = await self.adapter.write(batch)
            now = datetime.now(timezone.utc)
            counts: Counter[str] = Counter()
            links, gone = [], []
            for op, result in zip(batch, results, strict=True):
                if not result.ok:
                    self.errors.append({"eventId": op.event_id, "action": op.kind,
                                        "error": result.error or "failed", "code": result.error_code or "SYNC_FAILED"})
                    continue
                counts[f"outbound_{op.kind}d"] += 1
                if op.kind == "delete":
                    gone.append(op.event_id)
                else:
                    links.append(self._link(op.event_id, result, events[op.event_id].version, now))
            async with self.db.session() as s, s.begin():
                if gone:
                    await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                           SyncLink.event_id.in_(gone)))
                if links:
                    await self._replace_links(s, links)
            await self._tick(**counts)

    # -- the run -----------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        events, by_event, by_external, cursor = await self._load()
        use_cursor = None if self.options.force_update else cursor
        remote, new_cursor = await self._pull(use_cursor)
        self._plan(remote, events, by_event, by_external)
        if self.options.dry_run:
            return {"plan": self.plan.as_json(), "statistics": self._planned(), "duration": time.perf_counter() - started}
        await self._write_local()
        await self._write_remote(events)
        if new_cursor is not None and self.options.keeps_cursor:
            async with self.db.session() as s, s.begin():
                await s.execute(update(SyncState).where(SyncState.integration_id == self.integration_id)
                                .values(cursor=new_cursor, updated_at=datetime.now(timezone.utc)))
        return {"plan": None, "statistics": self.summary(), "duration": time.perf_counter() - started}

    def _planned(self) -> dict[str, Any]:
        plan = self.plan
        out = Counter(op.kind for op in plan.outbound)
        created = len(plan.inbound_create) + out["create"]
        updated = len(plan.inbound_update) + out["update"]
        deleted = len(plan.inbound_delete) + out["delete"]
        return {
            "eventsProcessed": created + updated + deleted + self.stats["unchanged"],
            "eventsCreated": created, "eventsUpdated": updated, "eventsDeleted": deleted, "errors": 0,
            "conflicts": len(plan.conflicts), "remoteChangesRead": self.stats["remote_read"],
            "listRequests": self.stats["list_requests"], "fullSync": self.full,
            "inbound": {"created": len(plan.inbound_create), "updated": len(plan.inbound_update), "deleted": len(plan.inbound_delete)},
            "outbound": {"created": out["create"], "updated": out["update"], "deleted": out["delete"]},
        }
