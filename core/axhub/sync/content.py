"""An event's content as the engine sees it: read from a row (``event_data``), put in
one form (``normalise``), compared on what an integration carries (``same_content``),
and written back as columns (``row_values``); and the chunks bulk statements go in."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from ..db import Event
from .adapter import FIELDS, Attendee, EventData

CHUNK = 10000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def chunks(items: list, size: int = CHUNK):
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
# The event columns a run reads (not the organizer or meeting: two JSON documents fewer to
# decode per row, about 0.5 ms of a 100-event load). The source is read: a filter never
# deletes at the provider an event that came from it.
READ = tuple(Event.__table__.c[name] for name in (
    "id", "title", "description", "location", "start_at", "end_at", "timezone", "type", "private", "attendees",
    "version", "updated_at", "deleted_at", "source"))


def row_values(data: EventData, fields: frozenset[str] = FIELDS) -> dict[str, Any]:
    values = {
        # A provider's text may be longer than the columns (PostgreSQL refuses it): clipped.
        "title": data.title[:500],
        "start": data.start,
        "end": data.end,
        "timezone": data.timezone,
        "description": data.description,
        "location": data.location[:500] if data.location else data.location,
        "attendees": [{"email": a.email, "name": a.name, "role": a.role} for a in data.attendees],
        "private": data.private,
    }
    return {_COLUMNS.get(k, k): v for k, v in values.items() if k in fields}
