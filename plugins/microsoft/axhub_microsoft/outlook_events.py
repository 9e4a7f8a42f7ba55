"""Outlook's event as Graph sends and takes it, for the calendar adapter: the JSON
shapes decoded straight from a page's bytes, the request preferences, time zones (Windows
names mapped to IANA, wall times), and the transaction ids that mark the hub's events."""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec


PAGE_SIZE = 500  # Prefer: odata.maxpagesize
MAX_BATCH = 20  # Graph's JSON batching limit
ATTEMPTS = 6
CATEGORY = "Attendance-X"
TRANSACTION = "axhub:"
UTC_PREFER = 'outlook.timezone="UTC"'
# Reads: times in UTC, bodies as text (Outlook users' events are HTML otherwise).
READ_PREFER = f'odata.maxpagesize={PAGE_SIZE}, {UTC_PREFER}, outlook.body-content-type="text"'
# Windows zone names Graph may answer in originalStartTimeZone, mapped to IANA (the
# events Outlook users create carry them).
WINDOWS_ZONES = {
    "UTC": "UTC", "GMT Standard Time": "Europe/London", "Romance Standard Time": "Europe/Paris",
    "W. Europe Standard Time": "Europe/Berlin", "Central Europe Standard Time": "Europe/Budapest",
    "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver", "Pacific Standard Time": "America/Los_Angeles",
    "Tokyo Standard Time": "Asia/Tokyo", "India Standard Time": "Asia/Kolkata",
}


def transaction_id(integration_id: str, event_id: str, version: int) -> str:
    """Fixed by what is being created, so that a create retried after a crash is the same."""
    digest = hashlib.sha256(f"{integration_id}:{event_id}:{version}".encode()).hexdigest()[:16]
    return f"{TRANSACTION}{event_id}:{digest}"


def local_id_of(transaction: str | None) -> str | None:
    if transaction and transaction.startswith(TRANSACTION):
        return transaction[len(TRANSACTION):].rsplit(":", 1)[0] or None
    return None


@functools.lru_cache(maxsize=256)
def iana(name: str | None) -> str:
    if not name:
        return "UTC"
    name = WINDOWS_ZONES.get(name, name)
    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - a zone Python does not know is kept as UTC
        return "UTC"
    return name


# The fields of Graph's event the adapter reads, decoded straight from the page's bytes.
class _Time(msgspec.Struct):
    dateTime: datetime  # noqa: N815 - Graph's names
    timeZone: str = "UTC"  # noqa: N815


class _Address(msgspec.Struct):
    address: str | None = None
    name: str | None = None


class _Attendee(msgspec.Struct):
    emailAddress: _Address | None = None  # noqa: N815


class _Body(msgspec.Struct):
    contentType: str = "text"  # noqa: N815
    content: str = ""


class _Location(msgspec.Struct):
    displayName: str | None = None  # noqa: N815


class _OnlineMeetingInfo(msgspec.Struct):
    joinUrl: str | None = None  # noqa: N815
    conferenceId: str | None = None  # noqa: N815


class _Removed(msgspec.Struct):
    reason: str = "deleted"


class _Event(msgspec.Struct, rename={"removed": "@removed"}):
    id: str
    removed: _Removed | None = None
    changeKey: str | None = None  # noqa: N815
    lastModifiedDateTime: datetime | None = None  # noqa: N815
    subject: str | None = None
    body: _Body | None = None
    start: _Time | None = None
    end: _Time | None = None
    originalStartTimeZone: str | None = None  # noqa: N815
    location: _Location | None = None
    attendees: list[_Attendee] = []
    sensitivity: str | None = None
    isCancelled: bool = False  # noqa: N815
    transactionId: str | None = None  # noqa: N815
    isOnlineMeeting: bool = False  # noqa: N815
    onlineMeeting: _OnlineMeetingInfo | None = None  # noqa: N815


class _Page(msgspec.Struct, rename={"next_link": "@odata.nextLink", "delta_link": "@odata.deltaLink"}):
    value: list[_Event] = []
    next_link: str | None = None
    delta_link: str | None = None


class _Reply(msgspec.Struct):
    id: str
    status: int
    headers: dict[str, str] = {}
    body: Any = None


class _Batch(msgspec.Struct):
    responses: list[_Reply] = []


# Exchange appends a Teams meeting's join information to the event's body, under a rule
# of underscores ("Microsoft Teams meeting" / "Réunion Microsoft Teams"…): not the
# description the user wrote, and not to be synced back into Attendance-X.
_JOIN_INFO = re.compile(r"\s*_{30,}[ \t]*\r?\n[^\n]*Microsoft Teams.*\Z", re.S)


def _by_join_url(join_url: str) -> str:
    # An OData string literal: a quote inside it is doubled.
    literal = join_url.replace("'", "''")
    return "/me/onlineMeetings?$filter=" + quote(f"JoinWebUrl eq '{literal}'", safe="")


def _without_join_info(text: str) -> str:
    return _JOIN_INFO.sub("", text).strip()


def _utc(value: _Time | None) -> datetime | None:
    if value is None:
        return None
    moment = value.dateTime
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    if value.timeZone == "UTC":  # what was asked for
        return moment.replace(tzinfo=timezone.utc)
    return moment.replace(tzinfo=ZoneInfo(iana(value.timeZone))).astimezone(timezone.utc)


def _wall(moment: datetime, tz: str) -> dict[str, str]:
    """Graph's dateTimeTimeZone: the wall-clock time in ``tz``, no offset."""
    return {"dateTime": moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": tz}
