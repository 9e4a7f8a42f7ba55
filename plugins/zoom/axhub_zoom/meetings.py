"""Zoom meetings for Attendance-X events, driven by the core's sync engine.

The adapter is *export-only* (``axhub.sync.MeetingAdapter``): the engine creates a
meeting for each new event the settings select, patches it when the event changes,
deletes it when the event goes (or leaves the selected types), and keeps the link
event ↔ meeting id. Meetings are never imported as events. After the writes,
``follow_up`` reads the participant report of each linked event that has ended and
records attendance.

Zoom's meeting ids are 64-bit integers: they are parsed from JSON as Python ints
(exact at any size) and kept as strings, never as floats.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import string
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from axhub import (
    FIELDS,
    Connection,
    EventData,
    FollowUp,
    InvalidCredentials,
    LinkedEvent,
    ProviderContext,
    ProviderError,
    ProviderPermissionDenied,
    QuotaBreaker,
    WriteOp,
    WriteResult,
    with_retries,
)

from . import attendance
from .errors import zoom_error
from .settings import ZoomSettings

ATTEMPTS = 5
PAGE_SIZE = 300  # the most Zoom's report API returns in one page
NOT_FOUND = "3001"  # "Meeting does not exist" — also what the report API says before the report is ready
NO_RECORDING = "3301"
GIVE_UP_AFTER = timedelta(days=30)  # an ended meeting with no report by then never had participants
# Zoom usually has the report within the hour: until then every run asks. Later (a
# meeting nobody joined never gets one) asks space out with the meeting's age, so that
# a sync every few minutes does not spend Zoom's report quota on it for 30 days.
EAGER_FOR = timedelta(hours=1)
RECHECK_MAX = timedelta(hours=6)
PASSWORD_ALPHABET = string.ascii_letters + string.digits  # Zoom passcodes: ≤ 10 of [A-Za-z0-9@-_*]


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_check(state: dict[str, Any], end: datetime) -> datetime | None:
    """When a pending report is worth asking for again (None: now). In the first hour
    after the end, at once; later, after a quarter of the meeting's age when it was last
    asked (at most 6 hours): about 140 asks over the 30 days instead of one a sync."""
    if state.get("status") != "pending" or not state.get("checkedAt"):
        return None
    try:
        checked = datetime.fromisoformat(str(state["checkedAt"]).replace("Z", "+00:00"))
    except ValueError:
        return None
    age = checked - end
    if age < EAGER_FOR:
        return None
    return checked + min(age / 4, RECHECK_MAX)


class ZoomMeetings:
    export_only = True
    batch_size = 1  # Zoom has no batch endpoint: one call per meeting
    concurrency = 4  # calls in flight; Zoom's meeting APIs allow tens a second
    fields = FIELDS

    def __init__(self, ctx: ProviderContext, connection: Connection) -> None:
        self.ctx = ctx
        self.connection = connection
        self.settings: ZoomSettings = connection.settings
        self.api = ctx.endpoint("api")
        self._listed: dict[tuple[str, str], list[int]] | None = None
        self._listing = asyncio.Lock()
        self._claimed: set[int] = set()  # meetings this run already gave an event
        # Zoom's daily limits: once one is spent, the rest of the run sends nothing.
        self.quota = QuotaBreaker()

    # -- what gets a meeting -----------------------------------------------------------
    def exports(self, data: EventData) -> bool:
        types = self.settings.event_types
        return not types or (data.type or "") in types

    def creates(self, data: EventData) -> bool:
        # Switching automatic creation off stops new meetings; existing ones still follow
        # their events. An event already over gets none (each create counts against
        # Zoom's daily limit of 100 per user).
        return self.settings.auto_create_meetings and data.end > datetime.now(timezone.utc)

    def body(self, data: EventData) -> dict[str, Any]:
        d = self.settings.meeting_defaults
        minutes = d.duration or max(1, math.ceil((data.end - data.start).total_seconds() / 60))
        return {
            "topic": data.title[:200],
            "type": 2,  # scheduled: an Attendance-X event is one occurrence at a fixed time
            "start_time": _utc(data.start),
            "duration": minutes,
            "timezone": d.timezone or data.timezone,
            "agenda": (data.description or "")[:2000],
            "settings": {
                "waiting_room": d.waiting_room,
                "join_before_host": d.join_before_host,
                "mute_upon_entry": d.mute_upon_entry,
                "auto_recording": d.recording_settings.auto_recording,
            },
        }

    # -- calls -------------------------------------------------------------------------
    async def _once(self, method: str, path: str, **kwargs: Any):
        async def call():
            token = await self.connection.access_token()
            return await self.ctx.call(method, f"{self.api}{path}", token=token, errors=zoom_error, **kwargs)

        return await self.quota.call(call)

    async def _call(self, method: str, path: str, **kwargs: Any):
        return await with_retries(lambda: self._once(method, path, **kwargs), attempts=ATTEMPTS)

    # -- creating without duplicates ---------------------------------------------------
    # Zoom takes no id from the client, so a create whose answer was lost (a timeout, a
    # hub killed before it saved the link) would be made twice. The passcode is the
    # client's part: derived from the event (HMAC with the OAuth client's secret, so
    # nobody else can compute it), it lets the hub find its own meeting among the
    # user's scheduled ones with the same topic and start before creating another.
    def password_for(self, op: WriteOp) -> str:
        """10 characters, a letter and a digit among them (accounts may require both)."""
        key = (self.ctx.client_secret or self.connection.id).encode()
        digest = hmac.new(key, f"{self.connection.id}:{op.event_id}".encode(), hashlib.sha256).digest()
        return (string.ascii_letters[digest[0] % 52] + string.digits[digest[1] % 10]
                + "".join(PASSWORD_ALPHABET[b % len(PASSWORD_ALPHABET)] for b in digest[2:10]))

    async def _scheduled(self, fresh: bool) -> dict[tuple[str, str], list[int]]:
        """The user's scheduled meetings by (topic, start): listed once a run, again
        after a create failed (it may have been made all the same). Single calls: the
        create's own retries cover them."""
        async with self._listing:
            if self._listed is None or fresh:
                listed: dict[tuple[str, str], list[int]] = {}
                params: dict[str, Any] = {"type": "scheduled", "page_size": PAGE_SIZE}
                while True:
                    try:
                        page = (await self._once("GET", "/users/me/meetings", params=params)).json()
                    except ProviderPermissionDenied:
                        break  # an app without meeting:read cannot look: create as asked
                    for m in page.get("meetings") or []:
                        listed.setdefault((m.get("topic") or "", m.get("start_time") or ""), []).append(m["id"])
                    if not page.get("next_page_token"):
                        break
                    params = {**params, "next_page_token": page["next_page_token"]}
                self._listed = listed
            return self._listed

    async def _made_before(self, body: dict[str, Any], fresh: bool) -> dict[str, Any] | None:
        for meeting_id in (await self._scheduled(fresh)).get((body["topic"], body["start_time"]), []):
            if meeting_id in self._claimed:
                continue
            try:
                meeting = (await self._once("GET", f"/meetings/{meeting_id}")).json()
            except ProviderError as exc:
                if exc.status == 404:
                    continue
                raise
            if meeting.get("password") == body["password"]:
                return meeting
        return None

    async def _create(self, op: WriteOp) -> WriteResult:
        body = self.body(op.data)  # type: ignore[arg-type]
        if self.settings.meeting_defaults.password:
            body["password"] = self.password_for(op)
        uncertain = False  # whether a failed attempt may have created the meeting all the same

        async def once() -> dict[str, Any]:
            nonlocal uncertain
            if "password" in body:
                found = await self._made_before(body, fresh=uncertain)
                if found is not None:
                    return found
            try:
                return (await self._once("POST", "/users/me/meetings", json=body)).json()
            except ProviderError as exc:
                uncertain = exc.status is None or exc.status >= 500  # no answer, or a broken one
                raise

        meeting = await with_retries(once, attempts=ATTEMPTS)
        self._claimed.add(meeting["id"])
        meeting_id = str(meeting["id"])  # an int from JSON, exact whatever its size
        return WriteResult(ok=True, external_id=meeting_id, meeting={
            "provider": "zoom",
            "id": meeting_id,
            "joinUrl": meeting.get("join_url"),
            "password": meeting.get("password") or None,
        })

    async def _one(self, op: WriteOp) -> WriteResult:
        try:
            if op.kind == "create":
                return await self._create(op)
            if op.kind == "update":
                if op.data.end <= datetime.now(timezone.utc):  # type: ignore[union-attr]
                    # A meeting that is over has nothing left to change (and Zoom's
                    # daily limit of updates is better spent on meetings to come).
                    return WriteResult(ok=True, external_id=op.external_id)
                try:
                    await self._call("PATCH", f"/meetings/{op.external_id}", json=self.body(op.data))  # type: ignore[arg-type]
                except ProviderError as exc:
                    if exc.status == 404 and exc.reason == NOT_FOUND:
                        return await self._create(op)  # deleted in Zoom: the event gets a new one
                    raise
                return WriteResult(ok=True, external_id=op.external_id)
            try:
                await self._call("DELETE", f"/meetings/{op.external_id}")
            except ProviderError as exc:
                if not (exc.status == 404 and exc.reason == NOT_FOUND):
                    raise
            return WriteResult(ok=True, external_id=op.external_id, meeting=None)
        except InvalidCredentials:
            raise  # the grant is dead: the run fails and the integration says reconnect
        except ProviderError as exc:
            return WriteResult(ok=False, error_code=exc.code, error=f"Zoom: {exc.message}")

    async def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        return [await self._one(op) for op in ops]

    def changes(self, cursor: str | None):  # export-only: the engine never lists
        raise NotImplementedError

    # -- attendance --------------------------------------------------------------------
    async def participants(self, meeting_id: str) -> list[attendance.Participant]:
        """Every record of the meeting's participant report, following next_page_token."""
        records: list[attendance.Participant] = []
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        while True:
            response = await self._call("GET", f"/report/meetings/{meeting_id}/participants", params=params)
            page = attendance.decode_page(response.content)
            records.extend(page.participants)
            token = page.next_page_token
            if not token:
                return records
            params = {"page_size": PAGE_SIZE, "next_page_token": token}

    async def follow_up(self, events: Sequence[LinkedEvent], run: FollowUp) -> None:
        tracking = self.settings.attendance_tracking
        if not (tracking.enabled and tracking.sync_attendance):
            return
        now = datetime.now(timezone.utc)
        for event in events:
            meeting = event.meeting or {}
            if meeting.get("provider") != "zoom":
                continue
            state = meeting.get("attendance") or {}
            if state.get("status") in ("recorded", "unavailable") and not run.force:
                continue
            due = _next_check(state, event.data.end)
            if due is not None and due > now and not run.force:
                run.pending(event.event_id, f"Zoom's participant report was not ready at {state['checkedAt']}; "
                                            f"the first sync after {_utc(due)} asks again")
                continue
            try:
                participants = await self.participants(event.external_id)
            except InvalidCredentials:
                raise
            except ProviderError as exc:
                if exc.status == 404 and exc.reason == NOT_FOUND:
                    if now - event.data.end > GIVE_UP_AFTER:
                        await run.update_meeting(event.event_id, {**meeting, "attendance": {"status": "unavailable"}})
                        run.note(event.event_id, meetingId=event.external_id,
                                 message="Zoom has no participant report for this meeting; attendance not recorded")
                    else:
                        # Remembered on the event, so that later runs know when to ask again.
                        await run.update_meeting(event.event_id, {**meeting, "attendance": {
                            "status": "pending", "checkedAt": _utc(now)}})
                        run.pending(event.event_id, "Zoom's participant report is not ready yet (it appears a while "
                                                    "after the meeting ends); a later sync tries again")
                    continue
                run.failed(event.event_id, exc.code, f"Zoom participant report: {exc.message}")
                continue
            result = attendance.compute(participants, event.data.attendees, tracking.minimum_duration)
            await run.record_attendance(event.event_id, result.records)
            present = sum(1 for r in result.records if r.status == "present")
            summary = {"status": "recorded", "participants": result.participants, "present": present,
                       "absent": len(result.records) - present, "unmatched": len(result.unmatched)}
            previous = {k: v for k, v in (meeting.get("attendance") or {}).items() if k != "recordedAt"}
            if previous != summary:
                await run.update_meeting(event.event_id, {**meeting, "attendance": {**summary, "recordedAt": _utc(now)}})
            run.note(event.event_id, meetingId=event.external_id, participants=result.participants, present=present,
                     absent=summary["absent"], unmatched=result.unmatched[:50])
            try:
                await self._protect_recording(event)
            except InvalidCredentials:
                raise
            except ProviderPermissionDenied:
                run.note(event.event_id, meetingId=event.external_id,
                         message="recordingAuthentication not applied: the Zoom app lacks the recording:write scope")
            except ProviderError as exc:
                run.failed(event.event_id, exc.code, f"Zoom recording settings: {exc.message}")

    async def _protect_recording(self, event: LinkedEvent) -> None:
        """``recordingAuthentication``: Zoom sets it on a meeting's cloud recording, which
        exists only once the meeting took place — hence here, not at creation."""
        recording = self.settings.meeting_defaults.recording_settings
        if recording.auto_recording != "cloud" or not recording.recording_authentication:
            return
        try:
            await self._call("PATCH", f"/meetings/{event.external_id}/recordings/settings",
                             json={"recording_authentication": True})
        except ProviderError as exc:
            if exc.reason not in (NO_RECORDING, NOT_FOUND):
                raise
