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

__all__ = ["FIELDS", "Attendee", "AttendanceRecord", "CalendarAdapter", "CursorExpired", "EventData", "FollowUp",
           "LinkedEvent", "MeetingAdapter", "Page", "RemoteEvent", "WriteOp", "WriteResult", "remove_created"]
