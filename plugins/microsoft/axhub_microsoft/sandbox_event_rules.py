"""What the Outlook sandbox accepts in an event body, as Graph does: the properties a
client may write, the enumerations, ``dateTimeTimeZone`` with IANA or Windows zones,
and Graph's error (``GraphFault``) for anything else."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


# Windows zone names Graph accepts beside IANA ones (the few a test meets).
WINDOWS_ZONES = {
    "UTC": "UTC", "GMT Standard Time": "Europe/London", "Romance Standard Time": "Europe/Paris",
    "W. Europe Standard Time": "Europe/Berlin", "Eastern Standard Time": "America/New_York",
    "Pacific Standard Time": "America/Los_Angeles", "Tokyo Standard Time": "Asia/Tokyo",
}
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
BODY_TYPES = ("text", "html")
ATTENDEE_TYPES = ("required", "optional", "resource")
CATEGORY_COLORS = ("none", *(f"preset{i}" for i in range(25)))
MEETING_PROVIDERS = ("unknown", "skypeForBusiness", "skypeForConsumer", "teamsForBusiness")
# The event properties a client may set (the rest are computed by Exchange).
WRITABLE = frozenset({
    "subject", "body", "start", "end", "location", "locations", "attendees", "sensitivity", "categories",
    "importance", "showAs", "transactionId", "isAllDay", "isReminderOn", "reminderMinutesBeforeStart",
    "allowNewTimeProposals", "responseRequested", "hideAttendees", "isOnlineMeeting", "onlineMeetingProvider",
})


def with_join_info(body: dict[str, Any], join_url: str, conference_id: str) -> dict[str, Any]:
    """What Exchange does to the body of an event that becomes a Teams meeting: it turns
    it into HTML and appends the meeting's join information under a rule of underscores."""
    content = body.get("content") or ""
    if body.get("contentType", "text") != "html":
        content = html.escape(content).replace("\n", "<br>")
    rule = "_" * 80
    info = (f"<div>{rule}</div>\n<div><b>Microsoft Teams meeting</b></div>\n"
            f"<div>Join on your computer, mobile app or room device</div>\n"
            f"<div><a href=\"{html.escape(join_url)}\">Click here to join the meeting</a></div>\n"
            f"<div>Meeting ID: {conference_id[:3]} {conference_id[3:6]} {conference_id[6:]}</div>\n<div>{rule}</div>")
    return {"contentType": "html", "content": f"<html><body><div>{content}</div>\n{info}</body></html>"}


class GraphFault(Exception):
    """An error Graph answers: status, ``error.code`` and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def bad(message: str, code: str = "ErrorInvalidRequest") -> GraphFault:
    return GraphFault(400, code, message)


def not_found() -> GraphFault:
    return GraphFault(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def stamp(moment: datetime) -> str:
    """Graph's DateTimeOffset: seven fractional digits and Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def zone(name: Any) -> ZoneInfo:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(WINDOWS_ZONES.get(name, name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise GraphFault(400, "TimeZoneNotSupportedException",
                     f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.")


def instant(value: Any, field: str) -> datetime:
    """``dateTimeTimeZone``: a wall-clock ``dateTime`` (no offset) in ``timeZone``."""
    if not isinstance(value, dict) or set(value) - {"dateTime", "timeZone"} or not isinstance(value.get("dateTime"), str):
        raise bad(f"The property '{field}' must be a dateTimeTimeZone with dateTime and timeZone.")
    text = value["dateTime"]
    try:
        parsed = datetime.fromisoformat(text[:26] if "." in text else text)
    except ValueError:
        raise bad(f"Cannot convert the literal '{text}' to the expected type 'Edm.String'.", "BadRequest") from None
    if parsed.tzinfo is not None:
        raise bad(f"The dateTime '{text}' of '{field}' carries an offset: Graph wants the wall-clock time and a timeZone.")
    return parsed.replace(tzinfo=zone(value.get("timeZone", "UTC")))


def wall(moment: datetime, tz: str) -> dict[str, str]:
    return {"dateTime": moment.astimezone(zone(tz)).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz}


def _choice(body: dict, name: str, allowed: tuple[str, ...]) -> None:
    if name in body and body[name] not in allowed:
        raise bad(f"Requested value '{body[name]}' was not found.", "RequestBodyRead")


def check(body: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("Empty Payload. JSON content expected.", "BadRequest")
    for name in body:
        if name.startswith("@odata."):
            continue
        if name not in WRITABLE:
            raise bad(f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to only use "
                      "property names that are defined by the type or mark the type as open type.", "RequestBodyRead")
    if "transactionId" in body and not creating:
        raise bad("transactionId cannot be changed once the event is created.")
    _choice(body, "sensitivity", SENSITIVITY)
    _choice(body, "importance", IMPORTANCE)
    _choice(body, "showAs", SHOW_AS)
    _choice(body, "onlineMeetingProvider", MEETING_PROVIDERS)
    if "isOnlineMeeting" in body and not isinstance(body["isOnlineMeeting"], bool):
        raise bad(f"Cannot convert the literal '{body['isOnlineMeeting']}' to the expected type 'Edm.Boolean'.", "BadRequest")
    if "body" in body:
        item = body["body"]
        if not isinstance(item, dict) or set(item) - {"contentType", "content"} or item.get("contentType", "text") not in BODY_TYPES:
            raise bad("The property 'body' must be an itemBody {contentType: text|html, content}.", "RequestBodyRead")
    if "location" in body and body["location"] is not None and not isinstance(body["location"], dict):
        raise bad("The property 'location' must be a location.", "RequestBodyRead")
    for attendee in body.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}) if isinstance(attendee, dict) else {}
        if not isinstance(address.get("address"), str) or attendee.get("type", "required") not in ATTENDEE_TYPES:
            raise bad("Each attendee needs emailAddress.address and a type of required, optional or resource.", "RequestBodyRead")
    if "categories" in body and (not isinstance(body["categories"], list) or not all(isinstance(c, str) for c in body["categories"])):
        raise bad("The property 'categories' must be a collection of strings.", "RequestBodyRead")
    return body
