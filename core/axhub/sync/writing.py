"""The writing half of a run: local changes in bulk, a transaction per chunk with their
links; remote changes in the adapter's batches, a few in flight, each batch's links
saved as soon as the provider answered."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Sequence

import msgspec
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from ..db import Event, SyncLink
from ..ids import new_id
from .adapter import EventData, RemoteEvent, WriteOp, WriteResult
from .content import chunks, row_values

IN_FLIGHT = 4  # provider batch requests under way at once (an adapter may say otherwise)


class Writing:
    """The :class:`~axhub.sync.engine.Engine`'s writes (a part of it: it carries out the
    run's ``plan``)."""

    async def _insert_new(self, items: list[tuple[RemoteEvent, EventData]], now: datetime) -> None:
        for chunk in chunks(items):
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
                await self.db.update_many(s, self.saved_statistics(inbound_created=len(chunk)))
            await self._tick(inbound_created=len(chunk))

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
            counts = {"inbound_updated": len(plan.inbound_update), "inbound_deleted": len(plan.inbound_delete)}
            updates = ((Event.__table__, ("id", "org_id"), changes),
                       (SyncLink.__table__, ("integration_id", "event_id"), kept),
                       self.saved_statistics(**counts))
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
            await self._tick(**counts)

    def _link(self, event_id: str, item: RemoteEvent | WriteResult, version: int, now: datetime) -> dict[str, Any]:
        return {"integration_id": self.integration_id, "event_id": event_id, "external_id": item.external_id,
                "etag": item.etag, "local_version": version, "synced_at": now}

    async def _replace_links(self, s, links: list[dict[str, Any]]) -> None:
        """Upsert links in bulk. A link may move: after a crash the provider's event is
        found again under our id, and whatever held either side of it gives way."""
        links = list({l["event_id"]: l for l in links}.values())  # one link per event: the last word
        for chunk in chunks(links):
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
                    await self._save_outbound(gone, created, moved, meetings, counts)
                except IntegrityError:
                    # A created event whose external id something still holds (a leftover
                    # of a crashed run): the general path moves the link.
                    await self._save_outbound(gone, [], created + moved, meetings, counts)
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
                             meetings: Sequence[dict] = (), counts: Counter[str] | None = None) -> None:
        async with self.db.session() as s, s.begin():
            # The provider's meeting on the event, with its link: not an edit of the
            # event (no new version, no change logged, nothing to sync back).
            await self.db.update_many(s, (Event.__table__, ("id", "org_id"), list(meetings)),
                                      self.saved_statistics(**(counts or {})))
            if gone:
                await s.execute(delete(SyncLink).where(SyncLink.integration_id == self.integration_id,
                                                       self.db.among(SyncLink.event_id, gone)))
            if created:  # new links: a plain insert, nothing to replace
                await self.db.insert_many(s, SyncLink.__table__, created)
            if moved:
                await self._replace_links(s, moved)
