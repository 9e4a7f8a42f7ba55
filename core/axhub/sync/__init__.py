"""Two-way calendar sync: the adapter a calendar plugin provides, and the core's engine."""

from .adapter import (
    FIELDS,
    Attendee,
    AttendanceRecord,
    CalendarAdapter,
    CursorExpired,
    EventData,
    FollowUp,
    LinkedEvent,
    MeetingAdapter,
    Page,
    RemoteEvent,
    WriteOp,
    WriteResult,
)
from .cleanup import remove_created
from .paging import read_ahead

__all__ = ["FIELDS", "Attendee", "AttendanceRecord", "CalendarAdapter", "CursorExpired", "EventData", "FollowUp",
           "LinkedEvent", "MeetingAdapter", "Page", "RemoteEvent", "WriteOp", "WriteResult", "read_ahead", "remove_created"]
