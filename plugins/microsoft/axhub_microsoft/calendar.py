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
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator
from urllib.parse import quote

import msgspec

from axhub import (
    FIELDS,
    Attendee,
    Connection,
    CursorExpired,
    EventData,
    Page,
    ProviderContext,
    ProviderError,
    RemoteEvent,
    with_retries,
)

from .calendar_writes import OutlookWrites
from .graph import graph_error
from .outlook_events import (
    ATTEMPTS,
    CATEGORY,
    MAX_BATCH,
    PAGE_SIZE,
    READ_PREFER,
    _Event,
    _Page,
    _utc,
    _wall,
    _without_join_info,
    iana,
    local_id_of,
)
from .settings import CATEGORY_PRESETS, MicrosoftSettings

__all__ = ["OutlookCalendar", "READ_PREFER"]


class OutlookCalendar(OutlookWrites):
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
