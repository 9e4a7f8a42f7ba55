"""The reading half of a run: what changed at the provider (listed from the cursor, or
everything, with new events inserted while the listing goes on), and the local events
and links that run needs — or, for a full listing, the whole local side."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import select

from ..db import Event, EventChange, SyncLink
from .adapter import CursorExpired, EventData, RemoteEvent
from .content import READ, chunks, normalise

log = logging.getLogger("axhub.sync")


class Reading:
    """The :class:`~axhub.sync.engine.Engine`'s reads (a part of it: it uses the run's
    adapter, options, cursor state and counters set up there)."""

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
            select(*READ, *SyncLink.__table__.c)
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
        for chunk in chunks(sorted(ids)):
            query = select(*READ).where(Event.org_id == self.org_id, self.db.among(Event.id, chunk))
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
            for chunk in chunks(list(remote)):
                query = (select(links_table, *READ)
                         .outerjoin(Event, (Event.id == SyncLink.event_id) & (Event.org_id == self.org_id))
                         .where(mine, self.db.among(SyncLink.external_id, chunk)))
                for row in (await s.execute(query)).all():
                    links.append(row)
                    if row.id is not None:
                        events[row.id] = row
            for chunk in chunks(local_ids):
                links += (await s.execute(select(links_table).where(mine, self.db.among(SyncLink.event_id, chunk)))).all()
            by_event = {l.event_id: l for l in links}
            await self._events(s, (set(by_event) | set(local_ids)) - set(events), events)
            # After a clean run only the events the change log names since then (often
            # none: then not even the query is built); otherwise every event.
            if self.change_mark is None:
                await self._changed(s, self._changed_query(), events, by_event)
            for chunk in chunks(self.touched) if self.change_mark is not None else ():
                await self._changed(s, self._changed_query().where(self.db.among(Event.id, chunk)), events, by_event)
        return events, by_event, {l.external_id: l for l in by_event.values()}

    def _vanished(self, remote: dict[str, RemoteEvent], by_event: dict[str, SyncLink]) -> None:
        """A full listing is the whole calendar: a linked event missing from it was
        deleted at the provider (its tombstone long gone), like an explicit deletion."""
        for link in by_event.values():
            if link.external_id not in remote:
                remote[link.external_id] = RemoteEvent(external_id=link.external_id, etag=None, updated=None,
                                                       deleted=True)
