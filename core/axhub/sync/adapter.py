"""What a calendar plugin gives the sync engine: a small adapter over its provider.

The engine owns everything generic — the link table, cursors, full resync, deletions
both ways, echo suppression, conflicts, dry runs, history. An adapter only lists what
changed at the provider since a cursor, writes batches of creates/updates/deletes, and
maps events between :class:`EventData` and the provider's shape (with the
integration's settings: title prefix, filters, colours…).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, AsyncIterator, Literal, Protocol, Sequence

import msgspec


# Untracked by the garbage collector (gc=False, they hold no cycles): a full listing makes
# one of each per event, tens of thousands at a time.
class Attendee(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One attendee of an event: ``role`` is ``attendee``, ``organizer``, ``manager``…"""

    email: str
    name: str | None = None
    role: str = "attendee"


class EventData(msgspec.Struct, frozen=True, gc=False):
    """The fields an Attendance-X event and a calendar event share, normalised (UTC
    instants, attendees sorted by email) so that equal events compare equal."""

    title: str
    start: datetime
    end: datetime
    timezone: str = "UTC"
    description: str | None = None
    location: str | None = None
    attendees: tuple[Attendee, ...] = ()
    private: bool = False
    type: str | None = None


class RemoteEvent(msgspec.Struct, gc=False):
    """One change at the provider. ``local_id`` is the Attendance-X id the hub stamped on
    events it created (extended properties, custom fields): it lets the engine recognise
    its own events even when it crashed before remembering the link."""

    external_id: str
    etag: str | None
    updated: datetime | None
    deleted: bool
    data: EventData | None = None
    local_id: str | None = None


class Page(msgspec.Struct):
    """One page of a listing; ``cursor`` is set on the last page only."""

    items: list[RemoteEvent]
    cursor: str | None = None  # set on the last page: where the next incremental run starts


class CursorExpired(Exception):
    """The provider no longer knows the cursor (Google 410 ``fullSyncRequired``, Graph
    ``syncStateNotFound``): the engine starts a full listing."""


class WriteOp(msgspec.Struct):
    """``version`` is the event's version being written: with ``event_id`` it makes a
    stable id for a create, so that a create retried after a crash is the same create."""

    kind: Literal["create", "update", "delete"]
    event_id: str
    external_id: str | None = None
    data: EventData | None = None
    version: int = 0


class WriteResult(msgspec.Struct):
    """The outcome of one :class:`WriteOp`, in the same order as the ops. A failed op
    carries the API's error code (``PERMISSION_DENIED``, ``RATE_LIMIT_EXCEEDED``…)."""

    ok: bool
    external_id: str | None = None
    etag: str | None = None
    updated: datetime | None = None
    error_code: str | None = None
    error: str | None = None
    # For meeting providers (Zoom, Teams): what the engine stores on the Attendance-X
    # event's ``meeting`` (shown by /api/events), e.g. {"provider", "id", "joinUrl",
    # "password"}. UNSET leaves it as it is, None clears it (the meeting was deleted).
    meeting: dict[str, Any] | None | msgspec.UnsetType = msgspec.UNSET


FIELDS = frozenset({"title", "start", "end", "timezone", "description", "location", "attendees", "private"})


class CalendarAdapter(Protocol):
    """What a calendar plugin's ``sync`` hook returns: listing, writing and filtering
    over its provider (docs/plugins.md, "The sync engine"). Optional methods:
    ``creates(data)`` and ``set_date_range(start, end)``."""

    batch_size: int
    # The EventData fields this integration carries both ways (its settings may leave
    # some out, e.g. includeDescription=false): the others are neither compared nor
    # overwritten on the Attendance-X side.
    fields: frozenset[str]

    def changes(self, cursor: str | None) -> AsyncIterator[Page]:
        """Pages of changes since ``cursor`` (everything when None), deletions included.
        Raise :class:`CursorExpired` when the provider refuses the cursor."""

    async def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Apply up to ``batch_size`` ops (one provider round trip where it batches).
        Creating an event the provider already holds under the same id must succeed
        (retries after a crash), and deleting one already gone too."""

    def exports(self, data: EventData) -> bool:
        """Whether this Attendance-X event belongs on the calendar (the integration's
        filters: event types, private events, minimum duration)."""

    # Optional: ``set_date_range(start, end)`` — the run's ``dateRange`` (None, None
    # without one), called by the engine before ``changes`` for an adapter whose listing
    # depends on it (Graph's calendarView delta). The engine never saves the cursor of a
    # ranged run, so a ranged listing may refuse a cursor made for another window.


# -- meeting providers: export-only adapters and the follow-up step --------------------

class LinkedEvent(msgspec.Struct, frozen=True):
    """An Attendance-X event linked to this integration, as the follow-up step sees it."""

    event_id: str
    external_id: str
    data: EventData
    meeting: dict[str, Any] | None = None


class AttendanceRecord(msgspec.Struct, frozen=True):
    """One attendee's attendance as a provider measured it."""

    email: str
    status: Literal["present", "absent", "late", "excused"]
    duration_minutes: int | None = None
    name: str | None = None


class FollowUp(Protocol):
    """What the engine offers an adapter's ``follow_up`` step (see :class:`MeetingAdapter`)."""

    force: bool  # the run's forceUpdate: look again at events already done

    async def record_attendance(self, event_id: str, records: Sequence[AttendanceRecord]) -> bool:
        """Write attendance through the events API's rules (source: the provider's slug;
        records set by hand or by another source are kept) and raise
        ``attendanceUpdated`` when something changed. True when something changed."""

    async def update_meeting(self, event_id: str, meeting: dict[str, Any] | None) -> None:
        """Replace the event's ``meeting`` (e.g. to remember that its attendance is in);
        not an edit of the event: no new version, nothing to sync."""

    def pending(self, event_id: str, reason: str) -> None:
        """Not ready yet (a report the provider has not produced): the next run tries
        again; the run's ``statistics.attendance.pending`` says why."""

    def failed(self, event_id: str, code: str, message: str) -> None:
        """A per-event error (the run is ``partial``; the next run tries again)."""

    def note(self, event_id: str, **details: Any) -> None:
        """Something the run's history should show for this event (``statistics.attendance.details``)."""


class MeetingAdapter(CalendarAdapter, Protocol):
    """A provider whose objects follow Attendance-X events but are never imported as
    events (Zoom meetings, Teams online meetings).

    ``export_only = True``: whatever direction a run asks, the engine runs only the
    Attendance-X → provider half; ``changes`` is never called. Writes create, update and
    delete the provider's objects and may return ``WriteResult.meeting``. After the
    writes, ``follow_up(events, run)`` gets the linked events that have ended (within the
    run's date range) and may record attendance through ``run``; not called on dry runs.
    """

    export_only: bool

    async def follow_up(self, events: Sequence[LinkedEvent], run: FollowUp) -> None:
        """After the writes: look at the linked events that have ended and record what the
        provider measured through ``run``."""
        ...
