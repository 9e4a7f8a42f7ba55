"""Bodies of ``/api/events``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from ..wire import Meta, Wire

AttendanceStatus = Literal["present", "absent", "late", "excused", "unknown"]


class Person(Wire, forbid_unknown_fields=True):
    email: str
    name: str | None = None


class AttendeeIn(Wire, forbid_unknown_fields=True):
    email: str
    name: str | None = None
    role: str = "attendee"


class EventIn(Wire, forbid_unknown_fields=True):
    title: str
    start: datetime
    end: datetime
    timezone: str = "UTC"
    description: str | None = None
    location: str | None = None
    type: str = "meeting"
    private: bool = False
    organizer: Person | None = None
    attendees: list[AttendeeIn] = []


class EventPatch(Wire, forbid_unknown_fields=True):
    title: str | msgspec.UnsetType = msgspec.UNSET
    start: datetime | msgspec.UnsetType = msgspec.UNSET
    end: datetime | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET
    description: str | None | msgspec.UnsetType = msgspec.UNSET
    location: str | None | msgspec.UnsetType = msgspec.UNSET
    type: str | msgspec.UnsetType = msgspec.UNSET
    private: bool | msgspec.UnsetType = msgspec.UNSET
    organizer: Person | None | msgspec.UnsetType = msgspec.UNSET
    attendees: list[AttendeeIn] | msgspec.UnsetType = msgspec.UNSET


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
    email: str
    status: AttendanceStatus
    source: str = "manual"
    duration_minutes: int | None = None
    name: str | None = None


class AttendanceUpdate(Wire, forbid_unknown_fields=True):
    records: list[AttendanceIn]


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
