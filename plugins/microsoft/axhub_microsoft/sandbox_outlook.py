"""The test user's Outlook calendars in memory: events, calendarView delta, master categories.

Shapes are Graph v1.0's (``microsoft-graph-v1.0.csdl.xml``: ``event``, ``outlookItem``,
``dateTimeTimeZone``, ``attendee``, ``outlookCategory``) and its documented behaviour:

- writes accept only ``event`` properties a client may set; ``dateTime`` has no offset
  and ``timeZone`` names its zone (IANA or Windows names); an unknown zone is Graph's
  400 ``TimeZoneNotSupportedException``;
- reads give ``start``/``end`` in UTC unless ``Prefer: outlook.timezone="…"`` asks for
  another zone, and the zone written in ``originalStartTimeZone``;
- ``transactionId`` makes a create idempotent: a second POST with the same one answers
  the event already made;
- ``calendarView/delta``: the first request needs ``startDateTime`` and ``endDateTime``,
  and only the first: the skip and delta tokens encode the window (a round goes on over
  the window it began with), so a request repeating them beside a token is refused
  (400) rather than quietly listing another window than the client thinks; pages hold ``Prefer: odata.maxpagesize`` events (default 10, as Graph), carry
  ``@odata.nextLink`` (a ``$skiptoken``) until the last, which carries
  ``@odata.deltaLink`` (a ``$deltatoken``: the window and the change number). The next
  round returns what changed in the window since, a deleted event as
  ``{"id", "@removed": {"reason": "deleted"}}`` and one moved out of the window with
  ``"reason": "changed"``. An expired token is 410 ``syncStateNotFound``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .sandbox_event_rules import (
    CATEGORY_COLORS,
    GraphFault,
    bad,
    check,
    instant,
    not_found,
    stamp,
    wall,
    with_join_info,
)

# Bodies read back as text (Prefer: outlook.body-content-type="text") lose their tags; a <br> becomes a newline.
_TAGS = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.I)
DEFAULT_PAGE = 10
MAX_PAGE = 1000
SNAPSHOTS = 256
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None


class Stored:
    __slots__ = ("event", "calendar", "seq", "start", "end", "deleted")

    def __init__(self, event: dict[str, Any], calendar: str, seq: int, start: datetime, end: datetime) -> None:
        self.event, self.calendar, self.seq, self.start, self.end, self.deleted = event, calendar, seq, start, end, False


class Outlook:
    def __init__(self, owner_name: str, owner_email: str, teams: Any = None) -> None:
        self.owner = {"name": owner_name, "address": owner_email}
        self.teams = teams  # sandbox_teams.Teams: where online meetings are made
        # The calendar's allowedOnlineMeetingProviders (POST /_control/graph changes it).
        self.meeting_providers: tuple[str, ...] = ("teamsForBusiness",)
        self.nonce = secrets.token_hex(4)  # tokens of another sandbox instance are refused
        self.seq = 0
        self.snapshot_ids = 0
        self.as_text = False  # the current call asked for text bodies
        # Told of every change (changeType, calendar, event): the subscriptions notify.
        self.on_change: Callable[[str, str, dict[str, Any]], None] = lambda change, calendar, event: None
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the data, not who listens to it.
        return {k: v for k, v in vars(self).items() if k != "on_change"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def reset(self) -> None:
        self.events: dict[str, Stored] = {}
        self.by_transaction: dict[str, str] = {}
        self.snapshots: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self.categories: list[dict[str, str]] = []
        self.epoch = secrets.token_hex(3)

    def expire_delta_tokens(self) -> None:
        self.epoch = secrets.token_hex(3)

    # -- events ------------------------------------------------------------------------
    def _save(self, event_id: str, calendar: str, fields: dict[str, Any], created: datetime | None = None) -> Stored:
        start, end = instant(fields["start"], "start"), instant(fields["end"], "end")
        if end < start:
            raise bad("The end of the event is before its start.", "ErrorInvalidRequest")
        self.seq += 1
        now = datetime.now(timezone.utc)
        change_key = _b64(f"{self.nonce}.{self.seq}")
        body = fields.get("body") or {"contentType": "text", "content": ""}
        location = fields.get("location") or {}
        online, provider = self._online(event_id, fields, start, end)
        if online is not None and not (self.events.get(event_id) and self.events[event_id].event.get("onlineMeeting")):
            body = with_join_info(body, online["joinUrl"], online["conferenceId"])
        event = {
            "@odata.etag": f'W/"{change_key}"', "id": event_id, "createdDateTime": stamp(created or now),
            "lastModifiedDateTime": stamp(now), "changeKey": change_key, "categories": list(fields.get("categories") or []),
            "transactionId": fields.get("transactionId"), "originalStartTimeZone": fields["start"].get("timeZone", "UTC"),
            "originalEndTimeZone": fields["end"].get("timeZone", "UTC"), "iCalUId": f"040000008200E00074C5B7101A82E008{event_id[-16:]}",
            "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15), "isReminderOn": fields.get("isReminderOn", True),
            "hasAttachments": False, "subject": fields.get("subject") or "", "bodyPreview": (body.get("content") or "")[:255],
            "importance": fields.get("importance", "normal"), "sensitivity": fields.get("sensitivity", "normal"),
            "isAllDay": bool(fields.get("isAllDay", False)), "isCancelled": False, "isOrganizer": True,
            "responseRequested": fields.get("responseRequested", True), "seriesMasterId": None,
            "showAs": fields.get("showAs", "busy"), "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            # onlineMeetingUrl is for Skype meetings only: null for Teams, whose link is onlineMeeting.joinUrl.
            "onlineMeetingUrl": None, "isOnlineMeeting": online is not None, "onlineMeeting": online,
            "onlineMeetingProvider": provider,
            "allowNewTimeProposals": fields.get("allowNewTimeProposals", True), "isDraft": False,
            "hideAttendees": fields.get("hideAttendees", False),
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": body.get("contentType", "text"), "content": body.get("content") or ""},
            "start": fields["start"], "end": fields["end"],
            "location": {"displayName": location.get("displayName") or "", "locationType": "default",
                         "uniqueIdType": "unknown" if location.get("displayName") else "unknown", "address": {}, "coordinates": {}},
            "locations": [], "recurrence": None,
            "attendees": [{"type": a.get("type", "required"), "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                           "emailAddress": {"name": a["emailAddress"].get("name") or a["emailAddress"]["address"],
                                            "address": a["emailAddress"]["address"]}} for a in fields.get("attendees") or []],
            "organizer": {"emailAddress": dict(self.owner)},
        }
        stored = Stored(event, calendar, self.seq, start, end)
        self.on_change("updated" if event_id in self.events else "created", calendar, event)
        self.events[event_id] = stored
        return stored

    def _online(self, event_id: str, fields: dict[str, Any], start: datetime, end: datetime) -> tuple[dict | None, str]:
        """The event's onlineMeeting and provider: kept once made (Outlook ignores later
        changes of isOnlineMeeting), made when asked and the calendar allows the provider."""
        previous = self.events.get(event_id)
        if previous is not None and previous.event.get("onlineMeeting"):
            return previous.event["onlineMeeting"], previous.event["onlineMeetingProvider"]
        if not fields.get("isOnlineMeeting"):
            return None, "unknown"
        # Without a provider Outlook uses the calendar's default one.
        provider = fields.get("onlineMeetingProvider") or (self.meeting_providers[0] if self.meeting_providers else "unknown")
        if provider != "teamsForBusiness" or provider not in self.meeting_providers or self.teams is None:
            return None, "unknown"  # no Teams here (a personal account): a plain event
        return self.teams.new_meeting(fields.get("subject") or "", start, end), provider

    def _fields(self, stored: Stored) -> dict[str, Any]:
        event = stored.event
        return {"subject": event["subject"], "body": {"contentType": event["body"]["contentType"], "content": event["body"]["content"]},
                "start": event["start"], "end": event["end"], "location": {"displayName": event["location"]["displayName"]},
                "attendees": [{"type": a["type"], "emailAddress": a["emailAddress"]} for a in event["attendees"]],
                **{k: event[k] for k in ("categories", "importance", "sensitivity", "showAs", "transactionId", "isAllDay",
                                         "isReminderOn", "reminderMinutesBeforeStart", "responseRequested", "hideAttendees",
                                         "allowNewTimeProposals", "isOnlineMeeting", "onlineMeetingProvider")}}

    def create(self, calendar: str, body: Any) -> tuple[dict[str, Any], bool]:
        """The event and whether it is new (False: its transactionId was seen already)."""
        fields = check(body, creating=True)
        if "start" not in fields or "end" not in fields:
            raise bad("An event needs a start and an end.")
        transaction = fields.get("transactionId")
        if transaction:
            known = self.by_transaction.get(transaction)
            if known and not self.events[known].deleted:
                return self.events[known].event, False
        event_id = "AAMkAGI2TG93AAA" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode() + "AAA="
        stored = self._save(event_id, calendar, {"importance": "normal", "sensitivity": "normal", "showAs": "busy", **fields})
        if transaction:
            self.by_transaction[transaction] = event_id
        return stored.event, True

    def live(self, event_id: str) -> Stored:
        stored = self.events.get(event_id)
        if stored is None or stored.deleted:
            raise not_found()
        return stored

    def update(self, event_id: str, body: Any) -> dict[str, Any]:
        stored = self.live(event_id)
        fields = {**self._fields(stored), **check(body, creating=False)}
        return self._save(event_id, stored.calendar, fields, created=datetime.fromisoformat(stored.event["createdDateTime"][:26])
                          .replace(tzinfo=timezone.utc)).event

    def delete(self, event_id: str) -> None:
        stored = self.live(event_id)
        if self.teams is not None and stored.event.get("onlineMeeting"):
            self.teams.end_meeting(stored.event["onlineMeeting"].get("joinUrl"))
        self.seq += 1
        stored.deleted, stored.seq = True, self.seq
        self.on_change("deleted", stored.calendar, stored.event)

    def view(self, event: dict[str, Any], tz: str | None) -> dict[str, Any]:
        """What a read returns: start/end in UTC or the Prefer'd zone, the body as text
        when ``Prefer: outlook.body-content-type="text"`` asked."""
        stored = self.events[event["id"]]
        name = tz or "UTC"
        out = {**event, "start": wall(stored.start, name), "end": wall(stored.end, name)}
        if self.as_text and event["body"]["contentType"] == "html":
            text = _BREAK.sub("\n", event["body"]["content"])
            out["body"] = {"contentType": "text", "content": html.unescape(_TAGS.sub("", text)).strip()}
        return out

    def listing(self, calendar: str, tz: str | None, keep: Callable[[Stored], bool] | None = None) -> list[dict[str, Any]]:
        return [self.view(s.event, tz) for s in self.events.values()
                if s.calendar == calendar and not s.deleted and (keep is None or keep(s))]

    # -- calendarView/delta --------------------------------------------------------------
    def delta(self, calendar: str, query: dict[str, str], page_size: int, tz: str | None) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """(items, skiptoken, deltatoken): one page of a round."""
        skip, delta = query.get("$skiptoken"), query.get("$deltatoken")
        if (skip or delta) and {k.lower() for k in query} & {"startdatetime", "enddatetime"}:
            # Graph: the state token encodes the window; links are followed as given.
            raise bad("startDateTime and endDateTime are encoded in the state token: follow the nextLink or "
                      "deltaLink as given.", "ErrorInvalidUrlQuery")
        if skip:
            state = _unb64(skip)
            if not isinstance(state, dict) or state.get("n") != self.nonce or state.get("s") not in self.snapshots:
                raise bad("The skip token is not valid.", "ErrorInvalidUrlQuery")
            snap_id, offset = state["s"], state["o"]
            self.snapshots.move_to_end(snap_id)
            return self._page(snap_id, offset, page_size, state)
        if delta:
            state = _unb64(delta)
            if not isinstance(state, dict) or state.get("n") != self.nonce or state.get("e") != self.epoch or state.get("c") != calendar:
                raise GraphFault(410, "syncStateNotFound", "The sync state generation is not found. Please retry with a "
                                 "full sync (without a delta token).")
            since, start, end = state["q"], state["a"], state["b"]
        else:
            if not query.get("startDateTime") or not query.get("endDateTime"):
                raise bad("This request requires a time window specified by the query string parameters StartDateTime "
                          "and EndDateTime.", "ErrorInvalidParameter")
            start, end = self._bound(query["startDateTime"]), self._bound(query["endDateTime"])
            since = None
        lo = EPOCH + timedelta(seconds=start)
        hi = EPOCH + timedelta(seconds=end)
        items: list[dict[str, Any]] = []
        for stored in sorted(self.events.values(), key=lambda s: s.seq):
            if stored.calendar != calendar or (since is not None and stored.seq <= since):
                continue
            inside = stored.end > lo and stored.start < hi
            if stored.deleted or not inside:
                if since is not None:  # a full round lists only what is there
                    reason = "deleted" if stored.deleted else "changed"
                    items.append({"@odata.type": "#microsoft.graph.event", "id": stored.event["id"], "@removed": {"reason": reason}})
                continue
            items.append(self.view(stored.event, tz))
        self.snapshot_ids += 1
        self.snapshots[self.snapshot_ids] = items
        while len(self.snapshots) > SNAPSHOTS:
            self.snapshots.popitem(last=False)
        return self._page(self.snapshot_ids, 0, page_size, {"n": self.nonce, "s": self.snapshot_ids, "q": self.seq,
                                                             "a": start, "b": end, "c": calendar})

    def _bound(self, value: str) -> float:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad(f"The parameter value '{value}' is not a valid DateTime.", "ErrorInvalidParameter") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return (moment - EPOCH).total_seconds()

    def _page(self, snap_id: int, offset: int, size: int, state: dict[str, Any]):
        items = self.snapshots[snap_id]
        page = items[offset:offset + size]
        if offset + size < len(items):
            return page, _b64(json.dumps({**state, "o": offset + size})), None
        self.snapshots.pop(snap_id, None)
        return page, None, _b64(json.dumps({"n": self.nonce, "e": self.epoch, "c": state["c"], "q": state["q"],
                                            "a": state["a"], "b": state["b"]}))

    # -- master categories -----------------------------------------------------------
    def add_category(self, body: Any) -> dict[str, str]:
        if not isinstance(body, dict) or not isinstance(body.get("displayName"), str) or not body["displayName"].strip():
            raise bad("displayName is required.", "ErrorInvalidParameter")
        if set(body) - {"displayName", "color"} or body.get("color", "none") not in CATEGORY_COLORS:
            raise bad(f"Requested value '{body.get('color')}' was not found.", "RequestBodyRead")
        if any(c["displayName"].lower() == body["displayName"].lower() for c in self.categories):
            raise GraphFault(409, "ErrorDuplicateObject", "An object with this name already exists.")
        category = {"id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
                    "displayName": body["displayName"], "color": body.get("color", "none")}
        self.categories.append(category)
        return category

    # -- seeding (control route) -------------------------------------------------------
    def seed(self, calendar: str, count: int, first: datetime, prefix: str, minutes: int, every: int) -> int:
        for i in range(count):
            begin = first + timedelta(minutes=every * i)
            self.create(calendar, {"subject": f"{prefix} {i + 1}",
                                   "start": wall(begin, "UTC"), "end": wall(begin + timedelta(minutes=minutes), "UTC")})
        return count
