"""The test user's calendar and the ``events.*`` methods of Calendar API v3, in memory.

Each change takes the next number of a calendar-wide sequence. A sync token is that
number (plus an epoch that ``expire-sync-tokens`` bumps), so an incremental list is
"every event whose last change is above it", deletions included. A full or incremental
list freezes its result in a snapshot the page tokens point into: paging never skips or
repeats an event however the calendar changes meanwhile, and the sync token on the last
page is the snapshot's number, so those changes come with the next incremental sync.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .sandbox_events import (
    CALENDAR_TZ, EVENT_TYPES, ID_RE, WRITABLE, ApiError, build, check_fields, merge, new_id, now_ms, span, stamp,
    tombstone, writable,
)

MAX_PAGE = 2500  # Google never returns more in one page, whatever maxResults says
DEFAULT_PAGE = 250
SNAPSHOTS = 512  # page tokens of older listings answer 400
# Parameters Google refuses alongside a syncToken (the discovery document's list).
SYNC_EXCLUSIVE = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")

Query = dict[str, list[str]]


class Stored:
    """One event's current version: the resource, the writable fields it was built from
    (what patch merges into) and what listing filters on."""

    __slots__ = ("event", "fields", "seq", "start", "end", "updated_ms")

    def __init__(self, event: dict[str, Any], fields: dict[str, Any], seq: int, start: float, end: float, updated_ms: int) -> None:
        self.event, self.fields, self.seq, self.start, self.end, self.updated_ms = event, fields, seq, start, end, updated_ms


class Snapshot:
    __slots__ = ("items", "seq")

    def __init__(self, items: list[dict[str, Any]], seq: int) -> None:
        self.items, self.seq = items, seq


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        return None


def one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _bool(query: Query, name: str) -> bool:
    value = one(query, name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise ApiError(400, f"Invalid boolean value for {name}: '{value}'", "invalid")
    return value.lower() == "true"


def _instant(query: Query, name: str) -> float | None:
    value = one(query, name)
    if value is None:
        return None
    if not RFC3339.fullmatch(value):  # the offset is mandatory
        raise ApiError(400, "Bad Request", "badRequest")
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp()


def _max_results(query: Query) -> int:
    value = one(query, "maxResults")
    if value is None:
        return DEFAULT_PAGE
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"Invalid value '{value}'. Values must match the following regular expression: '-?\\d+'", "invalidParameter") from None
    if number < 1:
        raise ApiError(400, f"Invalid value '{value}'. Values must be within the range: [1, 2147483647]", "invalidParameter")
    return min(number, MAX_PAGE)


def _properties(query: Query, name: str) -> list[tuple[str, str]]:
    pairs = []
    for value in query.get(name, []):
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise ApiError(400, f"Invalid value for {name}: '{value}'", "invalid")
        pairs.append((key, wanted))
    return pairs


class Calendar:
    def __init__(self, email: str) -> None:
        self.email = email
        self.nonce = secrets.token_hex(4)  # tokens from another sandbox instance are invalid here
        self.epoch = 0
        self.short_pages = True
        self.etag_base = now_ms() * 1000
        # Never reset: an emptied calendar must not hand out an etag (or a change number)
        # that meant something else before.
        self.seq = 0
        self.snapshot_ids = 0  # likewise: an old page token must not land in a new listing
        # Told of every change (the push channels notify their addresses).
        self.on_change: Callable[[], None] = lambda: None
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the data, not who listens to it.
        return {k: v for k, v in vars(self).items() if k != "on_change"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def reset(self) -> None:
        self.events: dict[str, Stored] = {}  # insertion order is the default listing order
        self.snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self.changed_ms = now_ms()
        self.expire_sync_tokens()

    def expire_sync_tokens(self) -> None:
        self.epoch += 1

    # -- storing -----------------------------------------------------------------------
    def _save(self, event_id: str, fields: dict[str, Any], start: float, end: float, *, prev: Stored | None,
              ical_uid: str, event_type: str, sequence: int, ms: int | None = None) -> Stored:
        self.seq += 1
        ms = ms or now_ms()
        updated = stamp(ms)
        event = build(fields, event_id=event_id, ical_uid=ical_uid, event_type=event_type,
                      created=prev.event["created"] if prev else updated, updated=updated,
                      etag=f'"{self.etag_base + self.seq}"', sequence=sequence, email=self.email)
        stored = Stored(event, fields, self.seq, start, end, ms)
        self.events[event_id] = stored
        self.changed_ms = ms
        self.on_change()
        return stored

    def _existing(self, event_id: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Stored:
        stored = self.events.get(event_id)
        if stored is None:
            raise ApiError(404, "Not Found", "notFound")
        restoring = body is not None and body.get("status") in ("confirmed", "tentative")
        if stored.event["status"] == "cancelled" and not restoring:
            raise ApiError(410, "Resource has been deleted", "deleted")
        wanted = headers.get("if-match")
        if wanted and wanted != "*" and wanted != stored.event["etag"]:
            raise ApiError(412, "Precondition Failed", "conditionNotMet")
        return stored

    @staticmethod
    def _sequence(body: dict[str, Any], current: int) -> int:
        given = body.get("sequence")
        if isinstance(given, int) and not isinstance(given, bool):
            if given < current:
                raise ApiError(400, "Invalid sequence value. The specified sequence number is below the current "
                                    "sequence number of the resource.", "invalid")
            return max(given, current + 1)
        return current + 1

    # -- events.* ----------------------------------------------------------------------
    def insert(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = writable(body)
        check_fields(fields)
        start, end, fields = span(fields)
        event_id = body.get("id")
        if event_id is None:
            event_id = new_id()
        elif not isinstance(event_id, str) or not ID_RE.fullmatch(event_id):
            raise ApiError(400, "Invalid resource id value.", "invalid")
        elif event_id in self.events:  # deleted ones too: an id is never reused
            raise ApiError(409, "The requested identifier already exists.", "duplicate")
        event_type = body.get("eventType") or "default"
        if event_type not in EVENT_TYPES:
            raise ApiError(400, "Invalid event type.", "invalid")
        sequence = body.get("sequence") if isinstance(body.get("sequence"), int) and body["sequence"] >= 0 else 0
        ical_uid = body.get("iCalUID") if isinstance(body.get("iCalUID"), str) and body["iCalUID"] else f"{event_id}@google.com"
        return self._save(event_id, fields, start, end, prev=None, ical_uid=ical_uid, event_type=event_type,
                          sequence=sequence).event

    def get(self, event_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
        """The event, deleted ones included ("The get method always returns them");
        None when ``If-None-Match`` matches (304)."""
        stored = self.events.get(event_id)
        if stored is None:
            raise ApiError(404, "Not Found", "notFound")
        if headers.get("if-none-match") == stored.event["etag"]:
            return None
        return stored.event

    def update(self, event_id: str, body: dict[str, Any], headers: dict[str, str], patch: bool) -> dict[str, Any]:
        stored = self._existing(event_id, headers, body)
        if patch:
            fields = merge(stored.fields, {k: body[k] for k in WRITABLE if k in body})
        else:
            fields = writable(body)
        check_fields(fields)
        start, end, fields = span(fields)
        return self._save(event_id, fields, start, end, prev=stored, ical_uid=stored.event["iCalUID"],
                          event_type=stored.event["eventType"],
                          sequence=self._sequence(body, stored.event["sequence"])).event

    def delete(self, event_id: str, headers: dict[str, str]) -> None:
        stored = self._existing(event_id, headers)
        # The tombstone keeps the details: the organizer's calendar can restore (undelete) it.
        self._save(event_id, {**stored.fields, "status": "cancelled"}, stored.start, stored.end, prev=stored,
                   ical_uid=stored.event["iCalUID"], event_type=stored.event["eventType"],
                   sequence=stored.event["sequence"] + 1)

    def list(self, query: Query) -> dict[str, Any]:
        max_results = _max_results(query)
        page_token = one(query, "pageToken")
        if page_token:
            snap_id, offset, index = self._page_position(page_token)
            return self._page(snap_id, self.snapshots[snap_id], offset, index, max_results)
        order = one(query, "orderBy")
        if order not in (None, "startTime", "updated"):
            raise ApiError(400, f"Invalid value for orderBy: '{order}'", "invalid")
        single = _bool(query, "singleEvents")
        if order == "startTime" and not single:
            raise ApiError(400, "The requested ordering is not available for the particular query.", "badRequest")
        show_deleted = _bool(query, "showDeleted")
        sync_token = one(query, "syncToken")
        if sync_token:
            clash = [name for name in SYNC_EXCLUSIVE if name in query]
            if clash:
                raise ApiError(400, f"Sync token cannot be used with the following parameters: {', '.join(clash)}.", "invalid")
            since = self._sync_position(sync_token)
            changed = sorted((s for s in self.events.values() if s.seq > since), key=lambda s: s.seq)
            items = [s.event if show_deleted or s.event["status"] != "cancelled" else tombstone(s.event) for s in changed]
        else:
            items = self._select(query, show_deleted, order)
        snapshot = Snapshot(items, self.seq)
        return self._page(self._remember(snapshot), snapshot, 0, 0, max_results)

    def _select(self, query: Query, show_deleted: bool, order: str | None) -> list[dict[str, Any]]:
        time_min, time_max = _instant(query, "timeMin"), _instant(query, "timeMax")
        if time_min is not None and time_max is not None and time_min >= time_max:
            raise ApiError(400, "The specified time range is empty.", "timeRangeEmpty")
        updated_min = _instant(query, "updatedMin")
        # updatedMin returns deletions "regardless of showDeleted", like a sync token.
        with_cancelled = show_deleted or updated_min is not None
        private, shared = _properties(query, "privateExtendedProperty"), _properties(query, "sharedExtendedProperty")
        ical_uid = one(query, "iCalUID")
        types = query.get("eventTypes")
        terms = (one(query, "q") or "").lower().split()
        chosen: list[Stored] = []
        for s in self.events.values():
            event = s.event
            if event["status"] == "cancelled" and not with_cancelled:
                continue
            if (time_min is not None and s.end <= time_min) or (time_max is not None and s.start >= time_max):
                continue
            if updated_min is not None and s.updated_ms < updated_min * 1000:
                continue
            if (ical_uid is not None and event["iCalUID"] != ical_uid) or (types and event["eventType"] not in types):
                continue
            if private or shared:
                props = event.get("extendedProperties") or {}
                if any((props.get("private") or {}).get(k) != v for k, v in private):
                    continue
                if any((props.get("shared") or {}).get(k) != v for k, v in shared):
                    continue
            if terms and not _matches(event, terms):
                continue
            chosen.append(s)
        if order == "startTime":
            chosen.sort(key=lambda s: s.start)
        elif order == "updated":
            chosen.sort(key=lambda s: s.seq)
        return [s.event if show_deleted or s.event["status"] != "cancelled" else tombstone(s.event) for s in chosen]

    # -- paging and sync tokens --------------------------------------------------------
    def _remember(self, snapshot: Snapshot) -> int:
        self.snapshot_ids += 1
        self.snapshots[self.snapshot_ids] = snapshot
        while len(self.snapshots) > SNAPSHOTS:
            self.snapshots.popitem(last=False)
        return self.snapshot_ids

    def _page(self, snap_id: int, snap: Snapshot, offset: int, index: int, max_results: int) -> dict[str, Any]:
        size = max_results
        if self.short_pages and index:
            # Google's pages may be short or empty while more remain. After a full first
            # page (what a client asking for one page gets), every third page is empty and
            # the others hold two thirds of maxResults.
            size = 0 if index % 3 == 1 else max(1, max_results * 2 // 3)
        items = snap.items[offset:offset + size]
        body: dict[str, Any] = {
            "kind": "calendar#events", "etag": f'"{self.etag_base + snap.seq}"', "summary": self.email,
            "updated": stamp(self.changed_ms), "timeZone": CALENDAR_TZ, "accessRole": "owner", "defaultReminders": [],
        }
        end = offset + len(items)
        if end < len(snap.items):
            body["nextPageToken"] = _encode(f"p.{self.nonce}.{snap_id}.{end}.{index + 1}")
        else:
            body["nextSyncToken"] = _encode(f"s.{self.nonce}.{self.epoch}.{snap.seq}")
        body["items"] = items
        return body

    def _page_position(self, token: str) -> tuple[int, int, int]:
        parts = (_decode(token) or "").split(".")
        try:
            if len(parts) == 5 and parts[0] == "p" and parts[1] == self.nonce and int(parts[2]) in self.snapshots:
                self.snapshots.move_to_end(int(parts[2]))  # a listing being paged stays
                return int(parts[2]), int(parts[3]), int(parts[4])
        except ValueError:
            pass
        raise ApiError(400, "Invalid page token value.", "invalid")

    def _sync_position(self, token: str) -> int:
        parts = (_decode(token) or "").split(".")
        if len(parts) == 4 and parts[0] == "s" and parts[1] == self.nonce and parts[2] == str(self.epoch) and parts[3].isdigit():
            return int(parts[3])
        # Expired, from an earlier epoch, or garbage: Google answers them all alike.
        raise ApiError(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")

    # -- bulk seeding (control route) --------------------------------------------------
    def seed(self, count: int, start: str | None, prefix: str, id_prefix: str | None, minutes: int, every: int,
             extended: dict[str, Any] | None) -> list[str]:
        first = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else \
            datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if first.tzinfo is None:
            first = first.replace(tzinfo=timezone.utc)
        if id_prefix is not None and not re.fullmatch(r"[a-v0-9]*", id_prefix):
            raise ApiError(400, "idPrefix must be base32hex (a-v, 0-9)", "invalid")
        ms, ids = now_ms(), []
        for i in range(count):
            begin = first + timedelta(minutes=every * i)
            finish = begin + timedelta(minutes=minutes)
            event_id = f"{id_prefix}{i:05d}" if id_prefix is not None else new_id()
            if event_id in self.events:
                raise ApiError(409, "The requested identifier already exists.", "duplicate")
            fields: dict[str, Any] = {"summary": f"{prefix} {i + 1}",
                                      "start": {"dateTime": f"{begin.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}", "timeZone": "UTC"},
                                      "end": {"dateTime": f"{finish.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}", "timeZone": "UTC"}}
            if extended:
                fields["extendedProperties"] = extended
            self._save(event_id, fields, begin.timestamp(), finish.timestamp(), prev=None,
                       ical_uid=f"{event_id}@google.com", event_type="default", sequence=0, ms=ms)
            ids.append(event_id)
        return ids


def _matches(event: dict[str, Any], terms: list[str]) -> bool:
    """``q``: every term appears in summary, description, location, or a person's name or email."""
    people = [event.get("organizer") or {}, *(event.get("attendees") or [])]
    text = " ".join(str(v) for v in (event.get("summary"), event.get("description"), event.get("location"),
                                      *(p.get("displayName") for p in people), *(p.get("email") for p in people)) if v).lower()
    return all(term in text for term in terms)
