"""One Calendar event in the sandbox: what a client may write, how Google checks it, and
the resource Google answers with (``Event`` in the discovery document).

Stored event dicts are never mutated once built (a change builds a new dict), so list
snapshots and the request log can share them without copying.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CALENDAR_TZ = "Europe/Paris"  # what calendars.get and events.list announce as the calendar's zone
ID_RE = re.compile(r"[a-v0-9]{5,1024}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
# Fields a client sets; everything else in a body (kind, etag, created, htmlLink, creator,
# organizer, unknown names, …) is read-only or unknown and Google silently ignores it.
WRITABLE = ("summary", "description", "location", "colorId", "start", "end", "endTimeUnspecified", "recurrence",
            "originalStartTime", "transparency", "visibility", "attendees", "extendedProperties", "reminders",
            "source", "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests", "anyoneCanAddSelf",
            "privateCopy", "locked", "status")
ENUMS = {"status": ("confirmed", "tentative", "cancelled"),
         "visibility": ("default", "public", "private", "confidential"),
         "transparency": ("opaque", "transparent")}
EVENT_TYPES = ("default", "birthday", "focusTime", "outOfOffice", "workingLocation")  # fromGmail cannot be created
DATETIME_FIELDS = ("start", "end", "originalStartTime")  # replaced whole by patch: date and dateTime exclude each other
_ORDER = ("kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "description", "location",
          "colorId", "creator", "organizer", "start", "end", "endTimeUnspecified", "recurrence", "originalStartTime",
          "transparency", "visibility", "iCalUID", "sequence", "attendees", "extendedProperties", "reminders",
          "source", "eventType")
_ORDERED = frozenset(_ORDER)


class ApiError(Exception):
    """A call Google refuses; rendered with :func:`sandbox_errors.error_body`."""

    def __init__(self, status: int, message: str, reason: str | None = None, domain: str = "global", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.reason, self.domain = status, message, reason, domain
        self.headers = headers or {}


def stamp(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, as Google writes ``created``/``updated``."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=1024)
def _second(seconds: int) -> str:
    # Cached: a batch stamps fifty events within the same second (strftime is the cost).
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """26 base32hex characters, like the ids Google generates."""
    return base64.b32hexencode(secrets.token_bytes(16)).decode().lower().rstrip("=")


def zone(name: str | None, which: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or CALENDAR_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, f"Invalid time zone definition for {which} time.", "invalid") from None


def _written(moment: datetime) -> str:
    """Google's dateTime: seconds, the offset of the event's zone, ``Z`` for UTC."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def instant(value: Any, which: str, recurring: bool = False) -> tuple[float, bool, dict[str, Any]]:
    """Seconds since the epoch of an ``EventDateTime``, whether it is all-day, and the
    ``EventDateTime`` as Google answers it (dateTime in the event's zone, or the calendar's)."""
    if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
        raise ApiError(400, f"Missing {which} time.", "required")
    if value.get("dateTime") and value.get("date"):
        raise ApiError(400, f"Invalid {which} time.", "invalid")
    tz_name = value.get("timeZone")
    tz = zone(tz_name, which) if tz_name else None
    if value.get("date"):
        try:
            day = date.fromisoformat(str(value["date"]))
        except ValueError:
            raise ApiError(400, f"Invalid {which} time.", "invalid") from None
        return datetime(day.year, day.month, day.day, tzinfo=tz or zone(None, which)).timestamp(), True, value
    try:
        moment = datetime.fromisoformat(str(value["dateTime"]))
    except ValueError:
        raise ApiError(400, f"Invalid {which} time.", "invalid") from None
    if moment.tzinfo is None:
        if tz is None:
            raise ApiError(400, f"Missing time zone definition for {which} time.", "required")
        moment = moment.replace(tzinfo=tz)
    elif recurring and tz is None:
        # Google needs the zone to expand a recurrence across DST changes.
        raise ApiError(400, f"Missing time zone definition for {which} time.", "required")
    written = {**value, "dateTime": _written(moment.astimezone(tz or zone(None, which)))}
    return moment.timestamp(), False, written


def span(fields: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
    """(start, end, fields as Google stores them) of an event's writable fields, checked
    the way Google checks them."""
    recurring = bool(fields.get("recurrence"))
    start, start_all_day, start_written = instant(fields.get("start"), "start", recurring)
    end, end_all_day, end_written = instant(fields.get("end"), "end", recurring)
    if start_all_day != end_all_day:
        raise ApiError(400, "Start and end times must either both be date or both be dateTime.", "invalid")
    if end < start:
        raise ApiError(400, "The specified time range is empty.", "timeRangeEmpty")
    return start, end, {**fields, "start": start_written, "end": end_written}


def check_fields(fields: dict[str, Any]) -> None:
    for name, allowed in ENUMS.items():
        if name in fields and fields[name] not in allowed:
            raise ApiError(400, f"Invalid value for: {name}", "invalid")
    attendees = fields.get("attendees")
    if attendees is not None:
        if not isinstance(attendees, list) or not all(isinstance(a, dict) for a in attendees):
            raise ApiError(400, "Invalid value for: attendees", "invalid")
        for attendee in attendees:
            if not EMAIL_RE.fullmatch(str(attendee.get("email") or "")):
                raise ApiError(400, "Invalid attendee email.", "invalid")
    props = fields.get("extendedProperties")
    if props is not None:
        if not isinstance(props, dict) or not all(isinstance(props.get(k) or {}, dict) for k in ("private", "shared")):
            raise ApiError(400, "Invalid value for: extendedProperties", "invalid")
    reminders = fields.get("reminders")
    if reminders is not None:
        overrides = reminders.get("overrides") if isinstance(reminders, dict) else None
        if not isinstance(reminders, dict) or not isinstance(overrides or [], list):
            raise ApiError(400, "Invalid value for: reminders", "invalid")
        if len(overrides or []) > 5:
            raise ApiError(400, "The maximum number of override reminders is 5.", "invalid")
        for item in overrides or []:
            if not isinstance(item, dict) or item.get("method") not in ("email", "popup"):
                raise ApiError(400, "Invalid reminder method.", "invalid")
            minutes = item.get("minutes")
            if not isinstance(minutes, int) or not 0 <= minutes <= 40320:
                raise ApiError(400, "Invalid value for: reminders.overrides.minutes", "invalid")
        if reminders.get("useDefault") and overrides:
            raise ApiError(400, "Cannot specify both default reminders and overrides at the same time.", "cannotUseDefaultRemindersAndSpecifyOverride")


def writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in WRITABLE if k in body and body[k] is not None}


def merge(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge key by key, arrays and scalars replace, ``null`` clears."""
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and key not in DATETIME_FIELDS:
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _attendees(attendees: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    out = []
    for attendee in attendees:
        item = dict(attendee)
        item.setdefault("responseStatus", "needsAction")
        if str(item.get("email", "")).lower() == email.lower():
            item["self"] = True
            item["organizer"] = True
        out.append(item)
    return out


def build(fields: dict[str, Any], *, event_id: str, ical_uid: str, event_type: str, created: str, updated: str,
          etag: str, sequence: int, email: str) -> dict[str, Any]:
    """The ``Event`` resource Google answers with, in Google's field order."""
    eid = base64.b64encode(f"{event_id} {email}".encode()).decode().rstrip("=")
    event: dict[str, Any] = {
        "kind": "calendar#event", "etag": etag, "id": event_id, "status": fields.get("status", "confirmed"),
        "htmlLink": f"https://www.google.com/calendar/event?eid={eid}", "created": created, "updated": updated,
        "creator": {"email": email, "self": True}, "organizer": {"email": email, "self": True},
        "iCalUID": ical_uid, "sequence": sequence, "reminders": {"useDefault": True}, "eventType": event_type,
    }
    for key, value in fields.items():
        if key != "status":
            event[key] = _attendees(value, email) if key == "attendees" else value
    return {k: event[k] for k in _ORDER if k in event} | {k: v for k, v in event.items() if k not in _ORDERED}


def tombstone(event: dict[str, Any]) -> dict[str, Any]:
    """A deleted event as an incremental sync without ``showDeleted`` returns it: Google only
    guarantees the id."""
    return {"kind": "calendar#event", "etag": event["etag"], "id": event["id"], "status": "cancelled"}
