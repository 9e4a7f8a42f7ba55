"""Two-way calendar sync: the adapter a calendar plugin provides, and the core's engine."""

from .adapter import FIELDS, Attendee, CalendarAdapter, CursorExpired, EventData, Page, RemoteEvent, WriteOp, WriteResult

__all__ = ["FIELDS", "Attendee", "CalendarAdapter", "CursorExpired", "EventData", "Page", "RemoteEvent", "WriteOp", "WriteResult"]
