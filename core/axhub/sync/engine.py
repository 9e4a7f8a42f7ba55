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

This module holds the run itself (its state, counters and the order of the phases);
the phases are parts of the engine of their own: :mod:`.reading` (1, 2),
:mod:`.planning` (3), :mod:`.writing` (4), :mod:`.follow_up` (a meeting provider's
step after the writes), over the event content of :mod:`.content`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from ..db import SyncLink, SyncRun
from .adapter import FIELDS, AttendanceRecord, CalendarAdapter, EventData
from .follow_up import FollowingUp, FollowUpRecorder
from .options import INBOUND, OUTBOUND, SyncOptions
from .planning import Plan, Planning
from .reading import Reading
from .writing import Writing

__all__ = ["Engine", "Plan", "SyncOptions"]


class Engine(Reading, Planning, Writing, FollowingUp):
    """One run of the engine over one integration. ``progress`` is called with counters
    as the run goes, ``heartbeat`` keeps the run's lock alive; with ``run_id``, every
    transaction that saves events or links also writes the run's statistics as they
    stand once it commits, so the live status counts exactly what is saved."""

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
        run_id: str | None = None,
    ) -> None:
        self.db = db
        self.run_id = run_id
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
        self.follow: FollowUpRecorder | None = None

    async def _tick(self, **counts: int) -> None:
        self.stats.update(counts)
        if self.heartbeat is not None:
            await self.heartbeat()
        if self.progress is not None:
            await self.progress(self.summary())

    def saved_statistics(self, **counts: int) -> tuple[Any, tuple[str, ...], list[dict[str, Any]]]:
        """The run's statistics as they stand once the transaction under way commits
        (``counts`` more), as an ``update_many`` group on the run's record, for that
        transaction to write: no group rows without a run id."""
        if self.run_id is None:
            return SyncRun.__table__, ("id",), []
        stats = Counter(self.stats)
        stats.update(counts)
        return SyncRun.__table__, ("id",), [{"id": self.run_id, "statistics": self.summary(stats)}]

    def summary(self, counted: Counter[str] | None = None) -> dict[str, Any]:
        """The run's statistics: what was written, or for a dry run what would be
        (``counted``: other counters than the run's own, see ``saved_statistics``)."""
        s = Counter(self.stats if counted is None else counted)
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
