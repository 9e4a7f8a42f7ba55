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
5. hands over the new cursor last (``state_values``, saved with the run's record), so
   that a run killed anywhere is simply run again: links and the ids the hub stamps on
   the events it creates make every step idempotent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..db import Event, EventChange, SyncLink
from ..errors import ApiError
from ..ids import new_id
from .adapter import (
    FIELDS,
    AttendanceRecord,
    Attendee,
    CalendarAdapter,
    CursorExpired,
    EventData,
    LinkedEvent,
    RemoteEvent,
    WriteOp,
    WriteResult,
)

log = logging.getLogger("axhub.sync")

INBOUND = {"bidirectional", "external_to_attendance"}
OUTBOUND = {"bidirectional", "attendance_to_external"}
CHUNK = 10000
IN_FLIGHT = 4  # provider batch requests under way at once (an adapter may say otherwise)
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


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
    attendees = data.attendees
    if data.start.tzinfo is timezone.utc and data.end.tzinfo is timezone.utc and (
        len(attendees) < 2 or all(a.email <= b.email for a, b in zip(attendees, attendees[1:]))
    ):
        return data  # adapters usually hand over UTC and sorted already
    return msgspec.structs.replace(
        data,
        start=data.start.astimezone(timezone.utc),
        end=data.end.astimezone(timezone.utc),
        attendees=tuple(sorted(data.attendees, key=lambda a: a.email)),
    )


def _comparable(data: EventData, field: str) -> Any:
    value = getattr(data, field)
    if field == "attendees":  # calendars keep no roles: a role is not a difference
        return tuple((a.email, a.name) for a in value)
    return value


def same_content(local: EventData, remote: EventData, fields: frozenset[str] = FIELDS) -> bool:
    """Equal on what this integration carries (never the type, which calendars don't know)."""
    return all(_comparable(local, f) == _comparable(remote, f) for f in fields)


_COLUMNS = {"start": "start_at", "end": "end_at"}
# The event columns a run reads (not the organizer, meeting, source…): fewer values to
# decode per row (two JSON documents fewer), about 0.5 ms of a 100-event load.
_READ = tuple(Event.__table__.c[name] for name in (
    "id", "title", "description", "location", "start_at", "end_at", "timezone", "type", "private", "attendees",
    "version", "updated_at", "deleted_at"))


def row_values(data: EventData, fields: frozenset[str] = FIELDS) -> dict[str, Any]:
    values = {
        "title": data.title[:500],
        "start": data.start,
        "end": data.end,
        "timezone": data.timezone,
        "description": data.description,
        "location": data.location,
        "attendees": [{"email": a.email, "name": a.name, "role": a.role} for a in data.attendees],
        "private": data.private,
    }
    return {_COLUMNS.get(k, k): v for k, v in values.items() if k in fields}


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
        state: tuple[str | None, int | None, int | None] = (None, None, None),
        progress: Callable[[dict[str, int]], Any] | None = None,
        heartbeat: Callable[[], Any] | None = None,
        source: str = "external",
        attendance: Callable[[str, list[AttendanceRecord]], Any] | None = None,
    ) -> None:
        self.db = db
        self.integration_id = integration_id
        self.org_id = org_id
        self.adapter = adapter
        self.options = options
        # The cursor and change mark of the last clean run, as the run's lock was taken,
        # and the newest local change then: the next change mark (None: none is saved,
        # and the next run looks at every local event).
        self.cursor, self.change_mark, self.newest_change = state
        self.progress = progress
        self.heartbeat = heartbeat
        self.source = source
        # SQLite works in this process, under the same interpreter lock as the listing:
        # there, overlapping inserts with the listing slows both down.
        self.db_beside = not getattr(db, "is_sqlite", True)
        self.stats: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.plan = Plan()
        self.full = False
        self.fields = frozenset(getattr(adapter, "fields", FIELDS))
        self.timings: dict[str, float] = {}
        self.touched: list[str] = []
        # What the run's record saves with it when the run ends well (cursor, change mark).
        self.state_values: dict[str, Any] = {}
        self._by_event: dict[str, SyncLink] = {}
        # External ids of a full listing already inserted while listing (see _pull).
        self.streamed: set[str] = set()
        self._window: tuple[datetime | None, datetime | None] | None = None
        # Meeting providers (MeetingAdapter): only the Attendance-X → provider half runs,
        # and a follow-up step may record attendance (``attendance`` writes it).
        self.export_only = bool(getattr(adapter, "export_only", False))
        if self.export_only:
            self.options = dataclasses.replace(options, direction="attendance_to_external")
        self.attendance = attendance
        # An adapter whose listing depends on the run's date range (Graph's calendarView
        # delta lists a window, and its cursor is bound to it) is told the range first.
        set_date_range = getattr(adapter, "set_date_range", None)
        if set_date_range is not None:
            set_date_range(options.start, options.end)
        # An adapter may create less than it keeps (Zoom with autoCreateMeetings off: no new
        # meetings, the existing ones still follow their events).
        self._creates: Callable[[EventData], bool] = getattr(adapter, "creates", None) or (lambda data: True)
        self.follow: _FollowUp | None = None

    async def _tick(self, **counts: int) -> None:
        self.stats.update(counts)
        if self.heartbeat is not None:
            await self.heartbeat()
        if self.progress is not None:
            await self.progress(self.summary())

    def summary(self) -> dict[str, Any]:
        """The run's statistics: what was written, or for a dry run what would be."""
        s = Counter(self.stats)
        if self.options.dry_run:
            plan = self.plan
            s.update(inbound_created=len(plan.inbound_create), inbound_updated=len(plan.inbound_update),
                     inbound_deleted=len(plan.inbound_delete))
            s.update(f"outbound_{op.kind}d" for op in plan.outbound)
        way = lambda side: {k: s[f"{side}_{k}"] for k in ("created", "updated", "deleted")}  # noqa: E731
        inbound, outbound = way("inbound"), way("outbound")
        created, updated, deleted = (inbound[k] + outbound[k] for k in ("created", "updated", "deleted"))
        return {
            "eventsProcessed": created + updated + deleted + s["unchanged"] + len(self.errors),
            "eventsCreated": created,
            "eventsUpdated": updated,
            "eventsDeleted": deleted,
            "errors": len(self.errors),
            "conflicts": len(self.plan.conflicts),
            "remoteChangesRead": s["remote_read"],
            "listRequests": s["list_requests"],
            "inbound": inbound,
            "outbound": outbound,
            "fullSync": self.full,
            "timingsMs": self.timings,
            **({"attendance": self.follow.summary()} if self.follow is not None else {}),
        }

    # -- 1. remote ---------------------------------------------------------------------
    async def _pull(self, cursor: str | None, known: set[str] | None = None,
                    ) -> tuple[dict[str, RemoteEvent], str | None]:
        """What changed at the provider. With ``known`` (the external ids linked before a
        full listing), events new to both sides are inserted while listing."""
        self.full = cursor is None
        remote: dict[str, RemoteEvent] = {}
        new_cursor = None
        streaming = known is not None and self.full
        inserting: asyncio.Future | None = None
        try:
            async for page in self.adapter.changes(cursor):
                for item in page.items:
                    remote[item.external_id] = item
                if page.cursor:
                    new_cursor = page.cursor
                if streaming:
                    # Events new to both sides need no plan: they go in while the next
                    # page is on its way (the database works beside the provider).
                    fresh = self._fresh(page.items, known or set())
                    if fresh:
                        inserting = asyncio.ensure_future(self._insert_after(inserting, fresh))
                await self._tick(remote_read=len(page.items), list_requests=1)
        except CursorExpired:
            if cursor is None:
                raise
            log.info("cursor of %s expired: full resync", self.integration_id)
            self.stats["cursor_expired"] += 1
            return await self._pull(None)
        finally:
            if inserting is not None:
                await inserting  # a failed insert fails the run; a crash leaves linked rows only
        return remote, new_cursor

    def _fresh(self, items: list[RemoteEvent], known: set[str]) -> list[tuple[RemoteEvent, EventData]]:
        """Items of a full listing that are plain creates: not ours, not linked, in the
        run's window. Remembered in ``self.streamed`` so that planning skips them."""
        now = datetime.now(timezone.utc)
        out = []
        for item in items:
            if item.deleted or item.data is None or item.local_id or item.external_id in known \
                    or item.external_id in self.streamed:
                continue
            data = normalise(item.data)
            if self._in_window(data, now):
                self.streamed.add(item.external_id)
                out.append((item, data))
        return out

    async def _insert_after(self, previous: asyncio.Future | None, items: list[tuple[RemoteEvent, EventData]]) -> None:
        if previous is not None:
            await previous  # one writer, in listing order
        await self._insert_new(items, datetime.now(timezone.utc))

    async def _insert_new(self, items: list[tuple[RemoteEvent, EventData]], now: datetime) -> None:
        for chunk in _chunks(items):
            rows, links = [], []
            for item, data in chunk:
                event_id = new_id("evt")
                rows.append({"id": event_id, "org_id": self.org_id, "type": data.type or "external", "organizer": None,
                             "meeting": None, "source": self.source, "version": 1, "created_at": now, "updated_at": now,
                             "deleted_at": None, **row_values(data)})
                links.append(self._link(event_id, item, 1, now))
            # Core inserts (not ORM bulk inserts): no per-row mapper work on the hot path.
            async with self.db.session() as s, s.begin():
                await self.db.insert_many(s, Event.__table__, rows)
                await self.db.insert_many(s, SyncLink.__table__, links)
            await self._tick(inbound_created=len(chunk))

    async def _local_changes(self) -> int | None:
        """The next change mark (the newest local change as the lock was taken), and
        the events changed since the current mark (``self.touched``)."""
        newest = self.newest_change
        if self.change_mark is not None and newest is not None and newest > self.change_mark:
            async with self.db.connect() as s:
                self.touched = list((await s.scalars(
                    select(EventChange.event_id).distinct()
                    .where(EventChange.org_id == self.org_id, EventChange.seq > self.change_mark)
                )).all())
        return newest

    def _changed_query(self):
        """Local changes: never synced, edited since, or deleted since. A row of it is the
        event's columns and its link's (``external_id`` None when there is none): the two
        tables share no column name."""
        mine = SyncLink.integration_id == self.integration_id
        return (
            select(*_READ, *SyncLink.__table__.c)
            .outerjoin(SyncLink, (SyncLink.event_id == Event.id) & mine)
            .where(Event.org_id == self.org_id)
            .where(
                (SyncLink.event_id.is_(None) & Event.deleted_at.is_(None))
                | (SyncLink.event_id.is_not(None) & ((Event.version > SyncLink.local_version) | Event.deleted_at.is_not(None)))
            )
        )

    async def _changed(self, s, query, events: dict[str, Event], by_event: dict[str, SyncLink]) -> None:
        for row in (await s.execute(query)).all():
            events[row.id] = row
            if row.external_id is not None:
                by_event[row.event_id] = row

    async def _events(self, s, ids: Sequence[str], events: dict[str, Event]) -> None:
        """The organisation's events of ``ids`` into ``events``."""
        for chunk in _chunks(sorted(ids)):
            query = select(*_READ).where(Event.org_id == self.org_id, self.db.among(Event.id, chunk))
            for row in (await s.execute(query)).all():
                events[row.id] = row

    # Plain rows (the columns' names as attributes, like the models'), not ORM objects:
    # a run only reads them, and building ORM objects costs more than the query itself.
    async def _load_all_local(self) -> tuple[dict[str, Event], dict[str, Any]]:
        """The whole local side, for ``forceUpdate`` and full listings (which must also
        notice what vanished): every link, the events they name, every local change."""
        mine = SyncLink.integration_id == self.integration_id
        async with self.db.connect() as s:
            by_event = {l.event_id: l for l in (await s.execute(select(SyncLink.__table__).where(mine))).all()}
            events: dict[str, Event] = {}
            await self._events(s, list(by_event), events)
            await self._changed(s, self._changed_query(), events, by_event)
        return events, by_event

    async def _load(self, remote: dict[str, RemoteEvent], local: tuple[dict[str, Event], dict[str, Any]] | None = None,
                    ) -> tuple[dict[str, Event], dict[str, SyncLink], dict[str, SyncLink]]:
        """Only what this run needs: the links and events the remote changes touch, and
        the local events changed since they were last synced — or the whole local side
        (``local``, when read before a full listing)."""
        mine = SyncLink.integration_id == self.integration_id
        local_ids = [r.local_id for r in remote.values() if r.local_id]
        if self.options.force_update or self.full:
            events, by_event = local if local is not None else await self._load_all_local()
            missing = set(local_ids) - set(events)
            if missing:
                async with self.db.connect() as s:
                    await self._events(s, missing, events)
            return events, by_event, {l.external_id: l for l in by_event.values()}
        events: dict[str, Event] = {}
        links: list[Any] = []
        links_table = SyncLink.__table__
        async with self.db.connect() as s:
            # The links the remote changes name, with their events (a row of both, as in
            # _changed_query), then the links of the events we created, and the events
            # not read yet.
            for chunk in _chunks(list(remote)):
                query = (select(links_table, *_READ)
                         .outerjoin(Event, (Event.id == SyncLink.event_id) & (Event.org_id == self.org_id))
                         .where(mine, self.db.among(SyncLink.external_id, chunk)))
                for row in (await s.execute(query)).all():
                    links.append(row)
                    if row.id is not None:
                        events[row.id] = row
            for chunk in _chunks(local_ids):
                links += (await s.execute(select(links_table).where(mine, self.db.among(SyncLink.event_id, chunk)))).all()
            by_event = {l.event_id: l for l in links}
            await self._events(s, (set(by_event) | set(local_ids)) - set(events), events)
            # After a clean run only the events the change log names since then (often
            # none: then not even the query is built); otherwise every event.
            if self.change_mark is None:
                await self._changed(s, self._changed_query(), events, by_event)
            for chunk in _chunks(self.touched) if self.change_mark is not None else ():
                await self._changed(s, self._changed_query().where(self.db.among(Event.id, chunk)), events, by_event)
        return events, by_event, {l.external_id: l for l in by_event.values()}

    def _vanished(self, remote: dict[str, RemoteEvent], by_event: dict[str, SyncLink]) -> None:
        """A full listing is the whole calendar: a linked event missing from it was
        deleted at the provider (its tombstone long gone), like an explicit deletion."""
        for link in by_event.values():
            if link.external_id not in remote:
                remote[link.external_id] = RemoteEvent(external_id=link.external_id, etag=None, updated=None,
                                                       deleted=True)

    # -- 3. plan -----------------------------------------------------------------------
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
        await self._insert_new(plan.inbound_create, now)

        if plan.inbound_update or plan.inbound_delete or plan.relink or plan.unlink:
            links, changes, kept = [], [], []
            for event, item, data in plan.inbound_update:
                version = event.version + 1
                changes.append({"id": event.id, "org_id": self.org_id, "version": version, "updated_at": now,
                                **row_values(data, self.fields)})
                known = self._by_event.get(event.id)
                if known is not None and known.external_id == item.external_id:
                    kept.append({"integration_id": self.integration_id, "event_id": event.id, "etag": item.etag,
                                 "local_version": version, "synced_at": now})
                else:
                    links.append(self._link(event.id, item, version, now))
            # The events, and the links that stay (only what they remember moves).
            updates = ((Event.__table__, ("id", "org_id"), changes),
                       (SyncLink.__table__, ("integration_id", "event_id"), kept))
            if links or plan.inbound_delete or plan.relink or plan.unlink:
                async with self.db.session() as s, s.begin():
                    await self.db.update_many(s, *updates)
                    for event in plan.inbound_delete:
                        await s.execute(update(Event).where(Event.id == event.id, Event.org_id == self.org_id)
                                        .values(deleted_at=now, updated_at=now, version=event.version + 1))
                        await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                               SyncLink.event_id == event.id))
                    links.extend(self._link(event_id, item, version, now) for event_id, item, version in plan.relink)
                    await self._replace_links(s, links)
                    if plan.unlink:
                        await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                               self.db.among(SyncLink.event_id, plan.unlink)))
            else:  # an incremental run's usual write: edits only
                await self.db.update_many_alone(*updates)
            await self._tick(inbound_updated=len(plan.inbound_update), inbound_deleted=len(plan.inbound_delete))

    def _link(self, event_id: str, item: RemoteEvent | WriteResult, version: int, now: datetime) -> dict[str, Any]:
        return {"integration_id": self.integration_id, "event_id": event_id, "external_id": item.external_id,
                "etag": item.etag, "local_version": version, "synced_at": now}

    async def _replace_links(self, s, links: list[dict[str, Any]]) -> None:
        """Upsert links in bulk. A link may move: after a crash the provider's event is
        found again under our id, and whatever held either side of it gives way."""
        links = list({l["event_id"]: l for l in links}.values())  # one link per event: the last word
        for chunk in _chunks(links):
            await s.execute(delete(SyncLink).where(
                SyncLink.integration_id == self.integration_id,
                self.db.among(SyncLink.event_id, [l["event_id"] for l in chunk])
                | self.db.among(SyncLink.external_id, [l["external_id"] for l in chunk]),
            ))
            await self.db.insert_many(s, SyncLink.__table__, chunk)

    async def _write_remote(self, events: dict[str, Event]) -> None:
        """The outbound ops in the adapter's batches, a few round trips in flight at once
        (the provider works on one while we prepare or record another); each batch's
        links are saved as soon as its answer is in."""
        ops = self.plan.outbound
        size = max(1, self.adapter.batch_size)
        batches = [ops[start:start + size] for start in range(0, len(ops), size)]
        in_flight = asyncio.Semaphore(max(1, getattr(self.adapter, "concurrency", IN_FLIGHT)))
        saving = asyncio.Lock()  # link writes one at a time: SQLite has one writer anyway

        async def one(batch: list[WriteOp]) -> None:
            async with in_flight:
                results = await self.adapter.write(batch)
            now = datetime.now(timezone.utc)
            counts: Counter[str] = Counter()
            links, gone = [], []
            meetings = []
            for op, result in zip(batch, results, strict=True):
                if result.ok and result.meeting is not msgspec.UNSET:
                    meetings.append({"id": op.event_id, "org_id": self.org_id, "meeting": result.meeting})
                if not result.ok:
                    self.errors.append({"eventId": op.event_id, "action": op.kind,
                                        "error": result.error or "failed", "code": result.error_code or "SYNC_FAILED"})
                    continue
                counts[f"outbound_{op.kind}d"] += 1
                if op.kind == "delete":
                    gone.append(op.event_id)
                else:
                    links.append((op, self._link(op.event_id, result, events[op.event_id].version, now)))
            created = [l for op, l in links if op.kind == "create"]
            moved = [l for op, l in links if op.kind != "create"]
            async with saving:
                try:
                    await self._save_outbound(gone, created, moved, meetings)
                except IntegrityError:
                    # A created event whose external id something still holds (a leftover
                    # of a crashed run): the general path moves the link.
                    await self._save_outbound(gone, [], created + moved, meetings)
                await self._tick(**counts)

        tasks = [asyncio.ensure_future(one(batch)) for batch in batches]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _save_outbound(self, gone: list[str], created: list[dict], moved: list[dict],
                             meetings: Sequence[dict] = ()) -> None:
        async with self.db.session() as s, s.begin():
            # The provider's meeting on the event, with its link: not an edit of the
            # event (no new version, no change logged, nothing to sync back).
            await self.db.update_many(s, (Event.__table__, ("id", "org_id"), list(meetings)))
            if gone:
                await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                       self.db.among(SyncLink.event_id, gone)))
            if created:  # new links: a plain insert, nothing to replace
                await self.db.insert_many(s, SyncLink.__table__, created)
            if moved:
                await self._replace_links(s, moved)

    # -- the run -----------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        clock = time.perf_counter
        marks = [clock()]

        def lap(name: str) -> None:
            marks.append(clock())
            self.timings[name] = round((marks[-1] - marks[-2]) * 1000, 1)

        cursor = None if self.options.force_update else self.cursor
        local = known = None
        # The change log is read while the provider lists; it must be read before any
        # local event is (a change logged after that is looked at next time).
        changes = asyncio.ensure_future(self._local_changes())
        try:
            if self.export_only:
                # Nothing to list; a constant cursor lets a clean run keep its change mark.
                remote, new_cursor = {}, "export-only"
            else:
                if cursor is None and self.db_beside and not self.options.dry_run and self.options.direction in INBOUND:
                    # A database server works in its own process: read the local side first
                    # and insert new events while the provider is still listing.
                    await changes
                    local = await self._load_all_local()
                    known = {l.external_id for l in local[1].values()}
                remote, new_cursor = await self._pull(cursor, known)
            newest_change = await changes
        finally:
            if not changes.done():
                changes.cancel()
            await asyncio.gather(changes, return_exceptions=True)
        lap("list")
        events, by_event, by_external = await self._load(remote, local)
        if self.full and self.options.keeps_cursor:
            self._vanished(remote, by_event)
        lap("load")
        self._plan(remote, events, by_event, by_external)
        lap("plan")
        if self.options.dry_run:
            return {"plan": self.plan.as_json(), "statistics": self.summary(), "duration": clock() - marks[0]}
        await self._write_local()
        lap("writeAttendanceX")
        await self._write_remote(events)
        lap("writeExternal")
        if hasattr(self.adapter, "follow_up"):
            await self._follow_up()
            lap("followUp")
        if new_cursor is not None and self.options.keeps_cursor:
            self.state_values = {"cursor": new_cursor, "updated_at": datetime.now(timezone.utc)}
            if not self.errors and self.options.direction in OUTBOUND:
                # Every local change logged before this run began is synced; later ones
                # (and, after errors or an inbound-only run, all) are looked at next time.
                self.state_values["change_mark"] = newest_change
        lap("cursor")
        return {"plan": None, "statistics": self.summary(), "duration": clock() - marks[0]}

    # -- 5. follow-up (meeting providers) ----------------------------------------------
    async def _follow_up(self) -> None:
        """Hand the adapter the linked events that have ended (within the run's date
        range), for attendance; what it reports lands in ``statistics.attendance``."""
        now = datetime.now(timezone.utc)
        self.follow = _FollowUp(self)
        query = (
            select(Event, SyncLink.external_id)
            .join(SyncLink, (SyncLink.event_id == Event.id) & (SyncLink.integration_id == self.integration_id))
            .where(Event.org_id == self.org_id, Event.deleted_at.is_(None), Event.end_at <= now)
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


class _FollowUp:
    """The engine's side of :class:`axhub.sync.FollowUp`."""

    def __init__(self, engine: Engine) -> None:
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
