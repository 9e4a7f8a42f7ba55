"""Bodies of ``/api/events``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from ..validation import TimeZone
from ..wire import Meta, Wire

AttendanceStatus = Literal["present", "absent", "late", "excused", "unknown"]

# The server's limits, declared so the OpenAPI says them: a body stays a few hundred KB
# at most, and an event's attendees are written to each provider in one sync.
MAX_ATTENDEES = 1000
# The spaces trimmed from titles and addresses. ASCII classes, not \s: JSON Schema's
# regexes (ECMA-262) and Python's disagree on what a space is.
SPACES = " \t\r\n"
Email = Annotated[str, msgspec.Meta(max_length=320, pattern=r"^[^@ \t\r\n]+@[^@ \t\r\n]+$")]
# Names, titles and locations are stored in columns of these widths (PostgreSQL refuses
# a longer value): the limits are the columns'.
Name = Annotated[str, msgspec.Meta(max_length=200)]
Title = Annotated[str, msgspec.Meta(max_length=500, pattern=r"[^ \t\r\n]")]  # something besides spaces
Location = Annotated[str, msgspec.Meta(max_length=500)]
Kind = Annotated[str, msgspec.Meta(max_length=64, pattern=r"[^ \t\r\n]")]
Text = Annotated[str, msgspec.Meta(max_length=65536)]
Attendees = Annotated[list["AttendeeIn"], msgspec.Meta(max_length=MAX_ATTENDEES)]


class Person(Wire, forbid_unknown_fields=True):
    email: Email
    name: Name | None = None


class AttendeeIn(Wire, forbid_unknown_fields=True):
    email: Email
    name: Name | None = None
    role: Annotated[str, msgspec.Meta(max_length=64)] = "attendee"


class EventIn(Wire, forbid_unknown_fields=True):
    title: Title
    start: datetime
    end: datetime
    timezone: TimeZone = "UTC"
    description: Text | None = None
    location: Location | None = None
    type: Kind = "meeting"
    private: bool = False
    organizer: Person | None = None
    attendees: Attendees = []


class EventPatch(Wire, forbid_unknown_fields=True):
    title: Title | msgspec.UnsetType = msgspec.UNSET
    start: datetime | msgspec.UnsetType = msgspec.UNSET
    end: datetime | msgspec.UnsetType = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    description: Text | None | msgspec.UnsetType = msgspec.UNSET
    location: Location | None | msgspec.UnsetType = msgspec.UNSET
    type: Kind | msgspec.UnsetType = msgspec.UNSET
    private: bool | msgspec.UnsetType = msgspec.UNSET
    organizer: Person | None | msgspec.UnsetType = msgspec.UNSET
    attendees: Attendees | msgspec.UnsetType = msgspec.UNSET


class EventOut(Wire):
    id: str
    title: str
    start: datetime
    end: datetime
    timezone: str
    description: str | None
    location: str | None
    type: str
    private: bool
    organizer: Person | None
    attendees: list[AttendeeIn]
    meeting: dict[str, Any] | None
    source: str
    created_at: datetime
    updated_at: datetime


class EventResponse(Wire, kw_only=True):
    success: bool = True
    data: EventOut


class EventList(Wire, kw_only=True):
    success: bool = True
    data: list[EventOut]
    meta: Meta


class Deleted(Wire):
    id: str
    deleted: bool
    deleted_at: datetime


class DeletedResponse(Wire, kw_only=True):
    success: bool = True
    data: Deleted


class AttendanceIn(Wire, forbid_unknown_fields=True):
    email: Email
    status: AttendanceStatus
    source: Annotated[str, msgspec.Meta(max_length=64)] = "manual"
    duration_minutes: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    name: Name | None = None


class AttendanceUpdate(Wire, forbid_unknown_fields=True):
    records: Annotated[list[AttendanceIn], msgspec.Meta(max_length=MAX_ATTENDEES)]


class AttendanceOut(Wire):
    email: str
    name: str | None
    role: str | None
    status: AttendanceStatus
    source: str | None
    duration_minutes: int | None
    updated_at: datetime | None


class AttendanceSummary(Wire):
    event_id: str
    attendees: int
    present: int
    attendance_rate: float | None
    records: list[AttendanceOut]


class AttendanceResponse(Wire, kw_only=True):
    success: bool = True
    data: AttendanceSummary
