"""The Google Calendar adapter the core's sync engine drives.

Listing: ``events.list`` with ``maxResults=2500``, ``showDeleted`` and ``singleEvents``,
following ``nextPageToken``; ``nextSyncToken`` (last page only) is the cursor and a 410
``fullSyncRequired`` turns into :class:`CursorExpired`. Writing: Google's batch endpoint,
50 calls a round trip; calls that were throttled (403 ``rateLimitExceeded``, 429) or
failed transiently are retried with backoff, others fail alone. Events the hub creates
get an id derived from the Attendance-X event (so a create retried after a crash is a
409 ``duplicate``, answered by reading the event back) and carry the Attendance-X id in
their private extended properties.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from datetime import date, datetime, time, timezone
from typing import Any, AsyncIterator, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec

from axhub import (
    FIELDS,
    Again,
    Attendee,
    Connection,
    CursorExpired,
    EventData,
    Page,
    ProviderContext,
    ProviderError,
    RemoteEvent,
    WriteOp,
    WriteResult,
    read_ahead,
    retry_after,
    settle_calls,
    with_retries,
)

from . import batch
from .errors import QUOTA_SPENT, google_error
from .settings import GoogleSettings

PAGE_SIZE = 2500  # the most Google returns in one page
ATTEMPTS = 6
LOCAL_ID = "axhubEventId"
TYPE = "axhubType"
THROTTLED = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


def event_id_for(integration_id: str, event_id: str, version: int) -> str:
    """A Google event id (base32hex, 5–1024 chars) fixed by what is being created."""
    digest = hashlib.sha256(f"{integration_id}:{event_id}:{version}".encode()).digest()[:20]
    return base64.b32hexencode(digest).decode().lower().rstrip("=")  # only a-v and 0-9 are allowed


# The fields of Google's Event the adapter reads, decoded straight from the page's bytes
# (msgspec parses the RFC 3339 times in C; every other field is skipped). Untracked by the
# garbage collector (gc=False: they hold no cycles): a full listing makes tens of thousands.
class _Time(msgspec.Struct, gc=False):
    dateTime: datetime | None = None  # noqa: N815 - Google's names
    date: date | None = None
    timeZone: str | None = None  # noqa: N815


class _Person(msgspec.Struct, gc=False):
    email: str | None = None
    displayName: str | None = None  # noqa: N815


class _Props(msgspec.Struct, gc=False):
    private: dict[str, str] = {}


class _Event(msgspec.Struct, gc=False):
    id: str
    etag: str | None = None
    status: str | None = None
    updated: datetime | None = None
    summary: str | None = None
    description: str | None = None
    location: str | None = None
    visibility: str | None = None
    start: _Time | None = None
    end: _Time | None = None
    attendees: list[_Person] = []
    extendedProperties: _Props | None = None  # noqa: N815


class _Page(msgspec.Struct):
    items: list[_Event] = []
    nextPageToken: str | None = None  # noqa: N815
    nextSyncToken: str | None = None  # noqa: N815
    timeZone: str | None = None  # noqa: N815


def _parse_time(value: _Time | None, default_tz: str) -> datetime | None:
    if value is None:
        return None
    if value.dateTime is not None:
        parsed = value.dateTime
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(value.timeZone or default_tz))
        return parsed.astimezone(timezone.utc)
    if value.date is not None:  # all-day: midnight where the calendar lives
        return datetime.combine(value.date, time(0), ZoneInfo(value.timeZone or default_tz)).astimezone(timezone.utc)
    return None


def _rfc3339(moment: datetime, tz: str) -> str:
    try:
        zone = ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - an unknown zone is written in UTC
        zone = timezone.utc
    return moment.astimezone(zone).isoformat()


def _error_reason(body: Any) -> tuple[str | None, str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, str(body)[:200] if body else "no body"
    reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
    return (reasons[0] if reasons else error.get("status")), error.get("message") or ""


class GoogleCalendar:
    batch_size = batch.MAX_CALLS

    def __init__(self, ctx: ProviderContext, connection: Connection) -> None:
        self.ctx = ctx
        self.connection = connection
        self.settings: GoogleSettings = connection.settings
        self.calendar = quote(self.settings.calendar_id, safe="@.")
        mapping = self.settings.event_mapping
        self.prefix = mapping.title_prefix or self.settings.event_prefix
        self.fields = FIELDS - {
            name for name, carried in (
                ("description", mapping.include_description and self.settings.include_description),
                ("location", mapping.include_location),
                ("attendees", mapping.include_attendees),
            ) if not carried
        }
        self.default_tz = "UTC"

    # -- mapping -----------------------------------------------------------------------
    def to_google(self, data: EventData, event_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "summary": f"{self.prefix}{data.title}",
            "start": {"dateTime": _rfc3339(data.start, data.timezone), "timeZone": data.timezone},
            "end": {"dateTime": _rfc3339(data.end, data.timezone), "timeZone": data.timezone},
            "visibility": "private" if data.private else "default",
            "extendedProperties": {"private": {LOCAL_ID: event_id, TYPE: data.type or ""}},
        }
        if "description" in self.fields:
            body["description"] = data.description or ""
        if "location" in self.fields:
            body["location"] = data.location or ""
        if "attendees" in self.fields:
            body["attendees"] = [{"email": a.email, **({"displayName": a.name} if a.name else {})} for a in data.attendees]
        if self.settings.event_mapping.color_id:
            body["colorId"] = self.settings.event_mapping.color_id
        reminders = self.settings.notifications
        if reminders.reminders:
            body["reminders"] = {"useDefault": False,
                                 "overrides": [{"method": "popup", "minutes": m} for m in reminders.reminder_minutes]}
        return body

    def from_google(self, item: _Event | dict[str, Any]) -> RemoteEvent:
        if isinstance(item, dict):
            item = msgspec.convert(item, _Event)
        private = item.extendedProperties.private if item.extendedProperties else {}
        remote = RemoteEvent(
            external_id=item.id,
            etag=item.etag,
            updated=item.updated,
            deleted=item.status == "cancelled",
            local_id=private.get(LOCAL_ID),
        )
        if remote.deleted:
            return remote
        start = _parse_time(item.start, self.default_tz)
        end = _parse_time(item.end, self.default_tz)
        if start is None or end is None:
            remote.deleted = True  # an event without times cannot be an Attendance-X event
            return remote
        title = item.summary or ""
        if self.prefix and title.startswith(self.prefix):
            title = title[len(self.prefix):]
        fields = self.fields
        remote.data = EventData(
            title=title or "(untitled)",
            start=start,
            end=max(end, start),
            timezone=(item.start.timeZone if item.start else None) or self.default_tz,
            description=(item.description or None) if "description" in fields else None,
            location=(item.location or None) if "location" in fields else None,
            attendees=tuple(sorted(
                (Attendee(a.email.lower(), a.displayName) for a in item.attendees if a.email),
                key=lambda a: a.email,
            )) if item.attendees and "attendees" in fields else (),
            private=item.visibility in ("private", "confidential"),
            type=private.get(TYPE) or None,
        )
        return remote

    def exports(self, data: EventData) -> bool:
        filters = self.settings.filters
        if filters.event_types and (data.type or "") not in filters.event_types:
            return False
        if data.private and (filters.exclude_private or not self.settings.sync_private_events):
            return False
        if filters.min_duration and (data.end - data.start).total_seconds() < filters.min_duration * 60:
            return False
        return True

    # -- listing -----------------------------------------------------------------------
    async def _get(self, url: str, params: dict[str, Any]) -> _Page:
        async def once() -> _Page:
            token = await self.connection.access_token()
            try:
                response = await self.ctx.call("GET", url, token=token, params=params, errors=google_error)
            except ProviderError as exc:
                if exc.status == 410:
                    raise CursorExpired() from None
                raise
            return msgspec.json.decode(response.content, type=_Page)

        return await with_retries(once, attempts=ATTEMPTS)

    async def changes(self, cursor: str | None) -> AsyncIterator[Page]:
        url = f"{self.ctx.endpoint('api')}/calendars/{self.calendar}/events"
        params: dict[str, Any] = {"maxResults": PAGE_SIZE, "showDeleted": "true", "singleEvents": "true"}
        if cursor:
            params["syncToken"] = cursor

        def following(page: _Page) -> dict[str, Any] | None:
            return {**params, "pageToken": page.nextPageToken} if page.nextPageToken else None

        async for page in read_ahead(functools.partial(self._get, url), params, following):
            self.default_tz = page.timeZone or self.default_tz
            yield Page(items=[self.from_google(item) for item in page.items], cursor=page.nextSyncToken)

    async def ours(self) -> list[RemoteEvent]:
        """The live events the hub created (they carry the Attendance-X id)."""
        return [item for page in [p async for p in self.changes(None)] for item in page.items
                if item.local_id and not item.deleted]

    # -- writing -----------------------------------------------------------------------
    def _call(self, op: WriteOp, create_id: str | None = None) -> batch.Call:
        base = f"/calendar/v3/calendars/{self.calendar}/events"
        if op.kind == "create":
            body = self.to_google(op.data, op.event_id)  # type: ignore[arg-type]
            body["id"] = create_id or event_id_for(self.connection.id, op.event_id, op.version)
            return batch.Call("POST", base, body)
        if op.kind == "update":
            return batch.Call("PATCH", f"{base}/{quote(op.external_id or '', safe='')}", self.to_google(op.data, op.event_id))  # type: ignore[arg-type]
        return batch.Call("DELETE", f"{base}/{quote(op.external_id or '', safe='')}")

    async def _send(self, calls: list[batch.Call]) -> list[batch.Reply]:
        payload, content_type = batch.encode(calls)

        async def once() -> list[batch.Reply]:
            token = await self.connection.access_token()
            response = await self.ctx.call("POST", self.ctx.endpoint("batch"), token=token, content=payload,
                                           headers={"Content-Type": content_type}, errors=google_error)
            return batch.decode(response.content, response.headers.get("content-type", ""), len(calls))

        return await with_retries(once, attempts=ATTEMPTS)

    async def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        kinds = {i: op.kind for i, op in enumerate(ops)}  # an update of a vanished event becomes a create
        read_back: dict[int, WriteResult] = {}
        last: dict[int, batch.Reply] = {}

        async def round_trip(pending: list[int]) -> dict[int, WriteResult | Again]:
            calls = [self._call(WriteOp(kinds[i], ops[i].event_id, ops[i].external_id, ops[i].data, ops[i].version))
                     for i in pending]
            outcomes: dict[int, WriteResult | Again] = {}
            for i, call, reply in zip(pending, calls, await self._send(calls), strict=True):
                last[i] = reply
                outcome = self._outcome(kinds[i], call, reply)
                if outcome == "retry":
                    outcomes[i] = Again(retry_after(reply.headers))
                elif outcome == "recreate":
                    kinds[i] = "create"
                    outcomes[i] = Again()
                elif outcome == "read":
                    outcomes[i] = read_back[i] = WriteResult(ok=True, external_id=call.body["id"])  # type: ignore[index]
                else:
                    outcomes[i] = outcome
            return outcomes

        done, unsettled = await settle_calls(list(range(len(ops))), round_trip, attempts=ATTEMPTS)
        results: list[WriteResult | None] = [done.get(i) for i in range(len(ops))]
        for i in unsettled:  # the code of Google's last answer: throttled, or failing
            results[i] = WriteResult(ok=False, error_code=_code(last[i]),
                                     error=f"Google kept answering {last[i].status} to this call; it is retried next sync")
        if read_back:
            await self._read_back(list(read_back.items()), results)
        return [r for r in results if r is not None]

    def _outcome(self, kind: str, call: batch.Call, reply: batch.Reply):
        if 200 <= reply.status < 300:
            body = reply.body if isinstance(reply.body, dict) else {}
            updated = body.get("updated")
            return WriteResult(ok=True, external_id=body.get("id") or call.path.rsplit("/", 1)[-1],
                               etag=body.get("etag"),
                               updated=datetime.fromisoformat(updated.replace("Z", "+00:00")) if updated else None)
        if _transient(reply):
            return "retry"
        reason, message = _error_reason(reply.body)
        if kind == "delete" and reply.status in (404, 410):
            return WriteResult(ok=True, external_id=call.path.rsplit("/", 1)[-1])  # already gone
        if kind == "update" and reply.status in (404, 410):
            return "recreate"
        if kind == "create" and reply.status == 409:
            return "read"  # ours already: a create retried after a crash
        return WriteResult(ok=False, error_code=_code(reply), error=f"Google answered {reply.status}: {message or reason}")

    async def _read_back(self, items: list[tuple[int, WriteResult | None]], results: list) -> None:
        """Our events Google holds already (a retried create answered 409), read back for
        their etag. Each read goes through the run's retry policy like any other call:
        throttled or failing transiently, it goes again; one that never settles keeps the
        code of Google's last answer."""
        base = f"/calendar/v3/calendars/{self.calendar}/events"
        ids = {i: r.external_id or "" for i, r in items if r is not None}
        last: dict[int, batch.Reply] = {}

        async def round_trip(pending: list[int]) -> dict[int, WriteResult | Again]:
            outcomes: dict[int, WriteResult | Again] = {}
            for start in range(0, len(pending), batch.MAX_CALLS):
                chunk = pending[start:start + batch.MAX_CALLS]
                calls = [batch.Call("GET", f"{base}/{quote(ids[i], safe='')}") for i in chunk]
                for i, reply in zip(chunk, await self._send(calls), strict=True):
                    last[i] = reply
                    if reply.status == 200 and isinstance(reply.body, dict):
                        remote = self.from_google(reply.body)
                        outcomes[i] = WriteResult(ok=True, external_id=remote.external_id, etag=remote.etag,
                                                  updated=remote.updated)
                    elif _transient(reply):
                        outcomes[i] = Again(retry_after(reply.headers))
                    else:
                        outcomes[i] = WriteResult(ok=False, error_code=_code(reply),
                                                  error=f"Google holds the event but answered {reply.status} reading it")
            return outcomes

        done, unsettled = await settle_calls(list(ids), round_trip, attempts=ATTEMPTS)
        for i, result in done.items():
            results[i] = result
        for i in unsettled:
            results[i] = WriteResult(ok=False, error_code=_code(last[i]),
                                     error=f"Google holds the event but kept answering {last[i].status} reading it; "
                                           "it is linked next sync")


def _transient(reply: batch.Reply) -> bool:
    """Throttled or failing for now: a call to send again."""
    reason, _ = _error_reason(reply.body)
    return reply.status in (429, 500, 502, 503, 504) or (reply.status == 403 and reason in THROTTLED)


def _code(reply: batch.Reply) -> str:
    """The spec's code for Google's answer to a call that did not succeed."""
    reason, _ = _error_reason(reply.body)
    if reason in QUOTA_SPENT:
        return "API_QUOTA_EXCEEDED"
    if reply.status == 429 or (reply.status == 403 and reason in THROTTLED):
        return "RATE_LIMIT_EXCEEDED"
    return {401: "INVALID_CREDENTIALS", 403: "PERMISSION_DENIED"}.get(reply.status, "SYNC_FAILED")
