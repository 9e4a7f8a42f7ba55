"""The Outlook calendar adapter the core's sync engine drives, over Microsoft Graph v1.0.

Listing: ``calendarView/delta`` over a window (Graph's delta needs one): the run's
``dateRange`` when it has one, else the integration's ``syncWindow`` (by default a year
back and three ahead). ``startDateTime``/``endDateTime`` go on the first request only,
then ``@odata.nextLink`` is followed as given (``Prefer: odata.maxpagesize``); the last
page's ``@odata.deltaLink`` is the cursor, and 410 ``syncStateNotFound`` turns into
:class:`CursorExpired`. ``@removed`` items are deletions (``reason: deleted``) or events
that left the window (``changed``: not deletions, nothing is done). A full listing of
the default window also asks ``/events`` for what lies outside it, so that a linked
event there is not taken for a deleted one.

A deltaLink is bound to the window it was made for (its state token encodes
``startDateTime``/``endDateTime``), so a cursor is followed only by a run over that same
window; see :meth:`OutlookCalendar.changes` for ranged runs.

Writing: JSON batches at ``/$batch``, 20 requests each, matched back by ``id`` (Graph
answers in any order); throttled (429 with a possibly fractional ``Retry-After``) or
transiently failed requests go again with backoff, others fail alone. Events the hub
creates carry a ``transactionId`` made of the Attendance-X id and version: Graph makes a
create with a known one idempotent, and it tells the engine which events are ours.

Times the Graph way: ``dateTime`` without an offset plus ``timeZone`` (the event's IANA
zone) when writing; reads ask ``Prefer: outlook.timezone="UTC"`` and take the event's
own zone from ``originalStartTimeZone``.

Teams meetings (``teamsIntegration.autoCreateMeetings``): events the hub creates ask
``isOnlineMeeting``; the join URL Graph answers goes to ``WriteResult.meeting`` (the
Attendance-X event's ``meeting``), then ``defaultMeetingSettings`` are PATCHed on the
online meeting found by that URL. The join information Exchange appends to such an
event's body is cut from the description read back.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec

from axhub import Connection, InvalidCredentials, ProviderContext, ProviderError, ProviderPermissionDenied
from axhub.http import retry_after
from axhub.retry import Again, settle_calls, with_retries
from axhub.sync import FIELDS, Attendee, CursorExpired, EventData, Page, RemoteEvent, WriteOp, WriteResult

from .graph import graph_error
from .settings import CATEGORY_PRESETS, MicrosoftSettings

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


class OutlookCalendar:
    batch_size = MAX_BATCH

    def __init__(self, ctx: ProviderContext, connection: Connection) -> None:
        self.ctx = ctx
        self.connection = connection
        self.settings: MicrosoftSettings = connection.settings
        self.graph = ctx.endpoint("graph")
        calendar = self.settings.calendar_id
        self.base = "/me/calendar" if calendar == "primary" else f"/me/calendars/{quote(calendar, safe='')}"
        self.fields = FIELDS
        outlook = self.settings.outlook_settings
        self.color = CATEGORY_PRESETS[outlook.category_color]
        self.categories = [CATEGORY] if self.color != "none" else []
        self._category_checked = False
        teams = self.settings.teams_integration
        self.meetings = teams.enabled and teams.auto_create_meetings
        # The run's dateRange (set_date_range), None for the default window.
        self.range: tuple[datetime, datetime] | None = None

    # -- mapping -----------------------------------------------------------------------
    def to_graph(self, data: EventData) -> dict[str, Any]:
        tz = iana(data.timezone)
        outlook = self.settings.outlook_settings
        return {
            "subject": data.title,
            "body": {"contentType": "text", "content": data.description or ""},
            "start": _wall(data.start, tz),
            "end": _wall(data.end, tz),
            "location": {"displayName": data.location or ""},
            "attendees": [{"emailAddress": {"address": a.email, **({"name": a.name} if a.name else {})},
                           "type": "optional" if a.role == "optional" else "required"} for a in data.attendees],
            "sensitivity": "private" if data.private else "normal",
            "importance": outlook.importance,
            "showAs": outlook.show_as,
            "categories": self.categories,
        }

    def online(self, data: EventData) -> dict[str, Any]:
        """What makes a new event a Teams meeting: only events the hub creates, and only
        those not over yet (as Zoom's meetings: one a user edits later is left as it is,
        and switching autoCreateMeetings off keeps the meetings already made)."""
        if not self.meetings or data.end <= datetime.now(timezone.utc):
            return {}
        return {"isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"}

    def meeting_options(self) -> dict[str, Any]:
        """defaultMeetingSettings as the onlineMeeting's own properties. Teams has no
        per-meeting switch that keeps anonymous people out (that is the tenant's meeting
        policy): allowAnonymous decides whether they wait in the lobby."""
        d = self.settings.teams_integration.default_meeting_settings
        return {
            "lobbyBypassSettings": {"scope": "everyone" if d.allow_anonymous else "organization",
                                    "isDialInBypassEnabled": d.allow_anonymous},
            "recordAutomatically": d.record_automatically,
            "allowTranscription": d.allow_transcription,
        }

    def from_graph(self, item: _Event) -> RemoteEvent:
        remote = RemoteEvent(external_id=item.id, etag=item.changeKey, updated=item.lastModifiedDateTime,
                             deleted=item.removed is not None or item.isCancelled, local_id=local_id_of(item.transactionId))
        if remote.deleted:
            return remote
        start, end = _utc(item.start), _utc(item.end)
        if start is None or end is None:
            remote.deleted = True  # not an event Attendance-X can hold
            return remote
        remote.data = EventData(
            title=item.subject or "(untitled)",
            start=start,
            end=max(end, start),
            timezone=iana(item.originalStartTimeZone or (item.start.timeZone if item.start else None)),
            description=(_without_join_info(item.body.content) or None) if item.body else None,
            location=(item.location.displayName or None) if item.location else None,
            attendees=tuple(sorted(
                # Graph fills a missing name with the address: that is no name.
                (Attendee(a.emailAddress.address.lower(),
                          a.emailAddress.name if a.emailAddress.name and a.emailAddress.name.lower() != a.emailAddress.address.lower() else None)
                 for a in item.attendees if a.emailAddress and a.emailAddress.address),
                key=lambda a: a.email,
            )),
            private=item.sensitivity in ("private", "confidential"),
        )
        return remote

    def exports(self, data: EventData) -> bool:
        return True

    # -- listing -----------------------------------------------------------------------
    def set_date_range(self, start: datetime | None, end: datetime | None) -> None:
        """The run's ``dateRange``, handed over by the engine before it lists: Graph lists
        a calendarView over a window, so the range the run asks is the window to list.
        Only a range with both ends replaces the default window (the API's dateRange has
        both); seconds are the finest Graph takes, so the range is widened to whole ones."""
        if start is None or end is None:
            self.range = None
            return
        start = start.astimezone(timezone.utc)
        end = end.astimezone(timezone.utc)
        ceil = end.replace(microsecond=0)
        self.range = (start.replace(microsecond=0), ceil if ceil == end else ceil + timedelta(seconds=1))

    def default_window(self) -> tuple[datetime, datetime]:
        """``syncWindow``: whole days around today."""
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        span = self.settings.sync_window
        return today - timedelta(days=span.past_days), today + timedelta(days=span.future_days)

    def window(self) -> tuple[datetime, datetime]:
        """The calendarView this run's delta round covers."""
        return self.range or self.default_window()

    def _key(self) -> str:
        """What a cursor is made for: the calendar and the window. A cursor with another
        key is never followed (another calendar, a changed syncWindow, a ranged run).
        The default window's key names the setting, not today's dates: its deltaLink
        keeps the window of the round that made it, and following it is the point."""
        if self.range is not None:
            start, end = self.range
            return f"{self.settings.calendar_id}|{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}|"
        span = self.settings.sync_window
        return f"{self.settings.calendar_id}|{span.past_days}|{span.future_days}|"

    async def _get(self, url: str, params: dict[str, str] | None = None) -> _Page:
        if not url.startswith(self.graph + "/"):
            # A link must lead back to Graph: the access token goes with it.
            raise ProviderError(f"Graph answered a link outside {self.graph}", reason="bad_link")

        async def once() -> _Page:
            token = await self.connection.access_token()
            try:
                response = await self.ctx.call("GET", url, token=token, params=params, errors=graph_error,
                                               headers={"Prefer": READ_PREFER})
            except ProviderError as exc:
                if exc.status == 410 or exc.reason in ("syncStateNotFound", "resyncRequired", "SyncStateNotFound"):
                    raise CursorExpired() from None
                raise
            return msgspec.json.decode(response.content, type=_Page)

        return await with_retries(once, attempts=ATTEMPTS)

    async def _pages(self, url: str, params: dict[str, str] | None) -> AsyncIterator[_Page]:
        """Follow ``@odata.nextLink``, asking for the next page while the caller handles
        this one (Graph builds the next page meanwhile)."""
        ahead: asyncio.Future[_Page] | None = None
        try:
            page = await self._get(url, params)
            while True:
                ahead = asyncio.ensure_future(self._get(page.next_link)) if page.next_link else None
                yield page
                if ahead is None:
                    return
                page, ahead = await ahead, None
        finally:
            if ahead is not None:  # the caller stopped early: drop the page asked ahead
                ahead.add_done_callback(lambda task: task.cancelled() or task.exception())
                ahead.cancel()

    async def changes(self, cursor: str | None) -> AsyncIterator[Page]:
        """Changes since ``cursor``, or a full listing of the window.

        A ranged run (``set_date_range``) is handed the stored cursor of the default
        window, whose deltaLink would list that window, not the range, and cannot be
        re-aimed: Graph takes ``startDateTime``/``endDateTime`` only on a round's first
        request. So the keys differ and the cursor is refused with :class:`CursorExpired`:
        the engine then asks for a full listing, here of the range alone. The stored
        cursor is not lost: the engine never saves the cursor of a ranged run
        (``SyncOptions.keeps_cursor``), so the next run over the default window follows
        it again, changes made meanwhile included. The range's own deltaLink is handed
        over as usual and dropped by the engine; were it ever kept, its key (the range's
        dates) would stop a run over any other window from following it."""
        key = self._key()
        if cursor is not None and not cursor.startswith(key):
            raise CursorExpired()  # another calendar or window: a listing of this one
        if cursor:
            url, params = cursor[len(key):], None
            if not url.startswith(self.graph + "/"):
                raise CursorExpired()  # made against another Graph endpoint (sandbox, national cloud)
        else:
            start, end = self.window()
            url = f"{self.graph}{self.base}/calendarView/delta"
            params = {"startDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
        async for page in self._pages(url, params):
            # "changed": the event left the window; it is not gone (see the module's doc).
            items = [self.from_graph(i) for i in page.value if not (i.removed and i.removed.reason == "changed")]
            if page.next_link:
                yield Page(items=items)
            elif cursor is None and self.range is None:
                # A full listing is the whole calendar for the engine: add what lies outside the window.
                # (Not for a ranged run: the engine infers no deletion from it, and compares
                # only events within the range.)
                yield Page(items=items)
                async for outside in self._outside():
                    yield Page(items=[self.from_graph(i) for i in outside.value])
                yield Page(items=[], cursor=key + (page.delta_link or ""))
            else:
                yield Page(items=items, cursor=key + page.delta_link if page.delta_link else None)

    def _outside(self) -> AsyncIterator[_Page]:
        start, end = self.default_window()
        return self._pages(f"{self.graph}{self.base}/events", {
            "$filter": f"end/dateTime le '{start:%Y-%m-%dT%H:%M:%S}' or start/dateTime ge '{end:%Y-%m-%dT%H:%M:%S}'",
            "$top": str(PAGE_SIZE),
        })

    async def ours(self) -> list[RemoteEvent]:
        """The events the hub created (their transactionId names an Attendance-X event),
        across the whole calendar: ``/events`` has no window."""
        return [RemoteEvent(external_id=i.id, etag=i.changeKey, updated=None, deleted=False,
                            local_id=local_id_of(i.transactionId))
                async for page in self._pages(f"{self.graph}{self.base}/events",
                                              {"$select": "id,transactionId", "$top": str(PAGE_SIZE)})
                for i in page.value if local_id_of(i.transactionId)]

    # -- writing -----------------------------------------------------------------------
    async def _ensure_category(self) -> None:
        """Our category in the user's master list, with the colour the settings ask
        (needs MailboxSettings.ReadWrite; without it events still carry the category)."""
        if self._category_checked or not self.categories:
            return
        self._category_checked = True
        token = await self.connection.access_token()
        url = f"{self.graph}/me/outlook/masterCategories"
        try:
            listed = (await self.ctx.call("GET", url, token=token, errors=graph_error)).json().get("value") or []
            if not any((c.get("displayName") or "").lower() == CATEGORY.lower() for c in listed):
                await self.ctx.call("POST", url, token=token, errors=graph_error,
                                    json={"displayName": CATEGORY, "color": self.color})
        except ProviderPermissionDenied:
            pass

    def _request(self, key: int, op: WriteOp, kind: str) -> dict[str, Any]:
        if kind == "create":
            body = {**self.to_graph(op.data), **self.online(op.data),  # type: ignore[arg-type]
                    "transactionId": transaction_id(self.connection.id, op.event_id, op.version)}
            return {"id": str(key), "method": "POST", "url": f"{self.base}/events",
                    "headers": {"Content-Type": "application/json", "Prefer": UTC_PREFER}, "body": body}
        url = f"/me/events/{quote(op.external_id or '', safe='')}"
        if kind == "update":
            return {"id": str(key), "method": "PATCH", "url": url,
                    "headers": {"Content-Type": "application/json", "Prefer": UTC_PREFER}, "body": self.to_graph(op.data)}  # type: ignore[arg-type]
        return {"id": str(key), "method": "DELETE", "url": url}

    async def _send(self, requests: list[dict[str, Any]]) -> dict[str, _Reply]:
        payload = msgspec.json.encode({"requests": requests})

        async def once() -> dict[str, _Reply]:
            token = await self.connection.access_token()
            response = await self.ctx.call("POST", f"{self.graph}/$batch", token=token, content=payload, errors=graph_error,
                                           headers={"Content-Type": "application/json"})
            replies = {r.id: r for r in msgspec.json.decode(response.content, type=_Batch).responses}
            missing = {r["id"] for r in requests} - set(replies)
            for key in missing:  # unanswered: tried again like a transient failure
                replies[key] = _Reply(id=key, status=503)
            return replies

        return await with_retries(once, attempts=ATTEMPTS)

    async def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        if any(op.kind != "delete" for op in ops):
            await self._ensure_category()
        kinds = {i: op.kind for i, op in enumerate(ops)}  # an update of a vanished event becomes a create

        async def round_trip(pending: list[int]) -> dict[int, WriteResult | Again]:
            replies = await self._send([self._request(i, ops[i], kinds[i]) for i in pending])
            outcomes: dict[int, WriteResult | Again] = {}
            for i in pending:
                reply = replies[str(i)]
                outcome = self._outcome(kinds[i], ops[i], reply)
                if outcome == "recreate":
                    kinds[i] = "create"
                    outcome = Again()
                outcomes[i] = outcome
            return outcomes

        done, unsettled = await settle_calls(list(range(len(ops))), round_trip, attempts=ATTEMPTS)
        for i in unsettled:
            done[i] = WriteResult(ok=False, error_code="RATE_LIMIT_EXCEEDED",
                                  error="Microsoft Graph kept throttling or failing this request; it is retried next sync")
        made = [done[i] for i in range(len(ops)) if kinds[i] == "create" and done[i].ok and done[i].meeting]
        if made:
            await self._apply_options(made)  # type: ignore[arg-type]
        return [done[i] for i in range(len(ops))]

    # -- Teams meetings ----------------------------------------------------------------
    async def _each(self, requests: list[dict[str, Any]]) -> list[_Reply | None]:
        """Requests in $batch round trips, each sent again while throttled or failing
        transiently: the final reply of each (None: it never settled)."""
        async def round_trip(pending: list[int]) -> dict[int, _Reply | Again]:
            replies = await self._send([{**requests[i], "id": str(i)} for i in pending])
            out: dict[int, _Reply | Again] = {}
            for i in pending:
                reply = replies[str(i)]
                if reply.status in (429, 500, 502, 503, 504):
                    out[i] = Again(retry_after({k.lower(): v for k, v in reply.headers.items()}))
                else:
                    out[i] = reply
            return out

        done: dict[int, _Reply] = {}
        for start in range(0, len(requests), MAX_BATCH):
            chunk = list(range(start, min(start + MAX_BATCH, len(requests))))
            settled, _ = await settle_calls(chunk, round_trip, attempts=ATTEMPTS)
            done.update(settled)
        return [done.get(i) for i in range(len(requests))]

    async def _apply_options(self, results: list[WriteResult]) -> None:
        """defaultMeetingSettings on the meetings just made. Graph reaches an event's
        meeting only through its join URL (``/me/onlineMeetings?$filter=JoinWebUrl eq``),
        then PATCHes it (both need OnlineMeetings.ReadWrite). A meeting whose options could
        not be set stays, with Teams' defaults, and says so (``optionsApplied: false``):
        the event itself was written."""
        try:
            found = await self._each([{"method": "GET", "url": _by_join_url(r.meeting["joinUrl"])}  # type: ignore[index]
                                      for r in results])
            ids = [((reply.body or {}).get("value") or [{}])[0].get("id") if reply and reply.status == 200 else None
                   for reply in found]
            for result, meeting_id in zip(results, ids):
                result.meeting["id"] = meeting_id  # type: ignore[index]
            targets = [(r, i) for r, i in zip(results, ids) if i]
            options = self.meeting_options()
            patched = await self._each([{
                "method": "PATCH", "url": f"/me/onlineMeetings/{quote(meeting_id, safe='')}",
                "headers": {"Content-Type": "application/json"}, "body": options,
            } for _, meeting_id in targets])
            for (result, _), reply in zip(targets, patched):
                result.meeting["optionsApplied"] = reply is not None and 200 <= reply.status < 300  # type: ignore[index]
        except InvalidCredentials:
            raise  # the grant is dead: the run says reconnect
        except ProviderError:
            # The meetings exist; their options stay Teams' defaults (optionsApplied: false).
            return

    def _meeting(self, event: _Event) -> dict[str, Any] | None:
        if not (event.isOnlineMeeting and event.onlineMeeting and event.onlineMeeting.joinUrl):
            return None
        return {"provider": "microsoft", "onlineMeetingProvider": "teamsForBusiness", "id": None,
                "joinUrl": event.onlineMeeting.joinUrl, "conferenceId": event.onlineMeeting.conferenceId,
                "optionsApplied": False}

    def _outcome(self, kind: str, op: WriteOp, reply: _Reply) -> WriteResult | Again | str:
        body = reply.body if isinstance(reply.body, dict) else {}
        if 200 <= reply.status < 300:
            if kind == "delete":
                return WriteResult(ok=True, external_id=op.external_id)
            event = msgspec.convert(body, _Event)
            result = WriteResult(ok=True, external_id=event.id, etag=event.changeKey, updated=event.lastModifiedDateTime)
            if kind == "create" and self.meetings:
                meeting = self._meeting(event)
                if meeting is not None:  # no Teams on this calendar: a plain event, nothing stored
                    result.meeting = meeting
            return result
        if reply.status in (429, 500, 502, 503, 504):
            headers = {k.lower(): v for k, v in reply.headers.items()}
            return Again(retry_after(headers))
        if reply.status == 404 and kind == "delete":
            return WriteResult(ok=True, external_id=op.external_id)  # already gone
        if reply.status == 404 and kind == "update":
            return "recreate"
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = {401: "INVALID_CREDENTIALS", 403: "PERMISSION_DENIED"}.get(reply.status, "SYNC_FAILED")
        return WriteResult(ok=False, error_code=code,
                           error=f"Microsoft Graph answered {reply.status}: {error.get('message') or error.get('code') or 'no detail'}")
