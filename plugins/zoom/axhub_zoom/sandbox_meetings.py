"""The sandbox's meetings and participant reports (Zoom API v2), in memory.

- ``POST /v2/users/me/meetings`` → 201 with the meeting (``id`` a 64-bit JSON number,
  ``join_url``, ``password``, ``settings``…); ``GET``/``PATCH`` (204)/``DELETE`` (204)
  ``/v2/meetings/{meetingId}``; ``GET /v2/users/me/meetings?type=scheduled`` (paged like
  the report, without passwords); an unknown id is 404 ``{"code": 3001, "message":
  "Meeting does not exist: {id}."}``; a bad body is 400 ``{"code": 300, "message":
  "Validation Failed.", "errors": [{"field", "message"}]}``.
- ``PATCH /v2/meetings/{meetingId}/recordings/settings`` (204; 404 code 3301 while the
  meeting has no cloud recording);
- ``GET /v2/report/meetings/{meetingId}/participants?page_size=&next_page_token=``: one
  record per join/leave session (``id``, ``user_id``, ``name``, ``user_email``,
  ``join_time``, ``leave_time``, ``duration`` in seconds, ``status``…), at most 300 a
  page, ``next_page_token`` (empty on the last page). Until the meeting was played and
  its report delay has passed, Zoom's answer for a meeting it has no report of: 404
  code 3001.

Control routes (tests and demos):

- ``POST /_control/meetings/{meetingId}/play`` ``{"participants": [{"name", "email",
  "sessions": [{"join": iso, "leave": iso, "status": "in_meeting"}]}], "reportDelay":
  seconds}``: the meeting took place; its report appears ``reportDelay`` seconds (of
  the sandbox's clock) after this call;
- ``POST /_control/clock`` ``{"advance": seconds}``: move the sandbox's clock on, so that
  a delayed report becomes ready without waiting;
- ``POST /_control/meetings/lose-answers`` ``{"count": n, "delay": seconds}``: the next
  ``n`` creates are carried out but answered 502 (the answer lost on the way: a client
  that retries blindly makes the meeting twice); ``delay``: every create is answered
  that long after the meeting was made (a client killed meanwhile never hears of it);
- ``POST /_control/meetings/next-id`` ``{"id": n}``: the id the next meeting gets (ids
  above 2**53 test precision);
- ``GET /_control/meetings``: every meeting with the calls made on it.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody

FIRST_ID = 85_746_065_432
MAX_PAGE = 300
PASSWORD = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
AUTO_RECORDING = ("local", "cloud", "none")
DEFAULT_SETTINGS = {
    "host_video": False, "participant_video": False, "join_before_host": False, "mute_upon_entry": False,
    "waiting_room": False, "auto_recording": "none", "approval_type": 2, "audio": "voip", "use_pmi": False,
    "meeting_authentication": False,
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class Meetings:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.calls: dict[int, list[str]] = {}
        self.next_id = FIRST_ID
        self.reports: dict[int, tuple[float, list[dict[str, Any]]]] = {}
        self.skew = 0.0  # seconds the control clock was advanced
        self.lose_answers = 0  # creates carried out whose answer is then lost (a 502)
        self.answer_delay = 0.0  # seconds between making a meeting and answering

    def now(self) -> float:
        return time.time() + self.skew

    def validate(self, body: dict[str, Any], creating: bool) -> list[dict[str, str]]:
        errors = []
        topic = body.get("topic")
        if topic is not None and (not isinstance(topic, str) or len(topic) > 200):
            errors.append({"field": "topic", "message": "Topic must be a string of at most 200 characters."})
        if "type" in body and body["type"] not in (1, 2, 3, 8):
            errors.append({"field": "type", "message": "Invalid meeting type."})
        if "start_time" in body and _parse(body["start_time"]) is None:
            errors.append({"field": "start_time", "message": "Invalid start_time."})
        if "duration" in body and (not isinstance(body["duration"], int) or body["duration"] < 0):
            errors.append({"field": "duration", "message": "Invalid duration."})
        if "password" in body and not PASSWORD.match(str(body["password"])):
            errors.append({"field": "password",
                           "message": "Password may only contain [a-z A-Z 0-9 @ - _ *] and be at most 10 characters."})
        if "agenda" in body and len(str(body["agenda"])) > 2000:
            errors.append({"field": "agenda", "message": "Agenda must be at most 2000 characters."})
        settings = body.get("settings") or {}
        if not isinstance(settings, dict):
            errors.append({"field": "settings", "message": "Invalid settings."})
        elif settings.get("auto_recording", "none") not in AUTO_RECORDING:
            errors.append({"field": "settings.auto_recording", "message": "Invalid field."})
        if creating and body.get("type", 2) in (2, 8) and "start_time" not in body:
            errors.append({"field": "start_time", "message": "start_time is required for a scheduled meeting."})
        return errors

    def create(self, body: dict[str, Any], host: Any) -> dict[str, Any]:
        meeting_id = self.next_id
        self.next_id += 1
        uuid = base64.b64encode(secrets.token_bytes(16)).decode()
        password = str(body.get("password") or "")
        pwd = secrets.token_urlsafe(24) if password else ""
        meeting = {
            "uuid": uuid,
            "id": meeting_id,
            "host_id": host.id,
            "host_email": host.email,
            "topic": body.get("topic") or "Zoom Meeting",
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": _iso(_parse(body["start_time"])) if body.get("start_time") else None,
            "duration": body.get("duration", 60),
            "timezone": body.get("timezone") or "Europe/Paris",
            "agenda": body.get("agenda") or "",
            "created_at": _iso(datetime.now(timezone.utc)),
            "start_url": f"https://zoom.us/s/{meeting_id}?zak=sbx{secrets.token_urlsafe(16)}",
            "join_url": f"https://zoom.us/j/{meeting_id}" + (f"?pwd={pwd}" if pwd else ""),
            "password": password,
            "h323_password": password,
            "pstn_password": password,
            "encrypted_password": pwd,
            "settings": {**DEFAULT_SETTINGS, **(body.get("settings") or {})},
            "pre_schedule": False,
        }
        self.items[meeting_id] = meeting
        self.calls[meeting_id] = ["create"]
        return meeting

    def update(self, meeting: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("topic", "type", "duration", "timezone", "agenda", "password"):
            if key in body:
                meeting[key] = body[key]
        if "start_time" in body:
            meeting["start_time"] = _iso(_parse(body["start_time"]))  # type: ignore[arg-type]
        if isinstance(body.get("settings"), dict):
            meeting["settings"] = {**meeting["settings"], **body["settings"]}
        self.calls[meeting["id"]].append("update")

    def play(self, meeting: dict[str, Any], data: dict[str, Any]) -> int:
        records = []
        for person in data.get("participants") or []:
            participant_id = base64.b32encode(secrets.token_bytes(10)).decode().rstrip("=")
            for session in person.get("sessions") or []:
                join, leave = _parse(session["join"]), _parse(session["leave"])
                records.append({
                    "id": participant_id,
                    "user_id": str(16_778_240 + len(records)),
                    "name": person.get("name") or "",
                    "user_email": person.get("email") or "",
                    "join_time": _iso(join),  # type: ignore[arg-type]
                    "leave_time": _iso(leave),  # type: ignore[arg-type]
                    "duration": max(0, int((leave - join).total_seconds())),  # type: ignore[operator]
                    "attentiveness_score": "",
                    "failover": False,
                    "status": session.get("status", "in_meeting"),
                    "customer_key": "",
                    "registrant_id": "",
                    "participant_user_id": "",
                })
        records.sort(key=lambda r: r["join_time"])
        self.reports[meeting["id"]] = (self.now() + float(data.get("reportDelay", 0)), records)
        meeting["status"] = "finished"
        return len(records)

    def report(self, meeting_id: int) -> list[dict[str, Any]] | None:
        ready = self.reports.get(meeting_id)
        if ready is None or ready[0] > self.now():
            return None
        return ready[1]


def _token(offset: int) -> str:
    # Opaque to clients, like Zoom's; it says where the next page starts.
    return base64.urlsafe_b64encode(f"sbx:{offset}:{secrets.token_hex(4)}".encode()).decode()


def _offset(token: str) -> int | None:
    try:
        kind, offset, _ = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(offset) if kind == "sbx" else None
    except (ValueError, UnicodeDecodeError):
        return None


def meeting_routes(store: Meetings, guard: Callable, api_error: Callable,
                   ended: Callable[[dict[str, Any]], None] | None = None) -> list[Any]:
    """``guard(request, scopes)`` answers the rate limit and the bearer check: an error
    ``Response``, or ``(issued, headers)``."""

    def missing(meeting_id: str, headers: dict[str, str]) -> Response:
        return api_error(404, 3001, f"Meeting does not exist: {meeting_id}.", headers)

    def invalid(errors: list[dict[str, str]], headers: dict[str, str]) -> Response:
        return Response({"code": 300, "message": "Validation Failed.", "errors": errors}, status_code=400,
                        headers=headers)

    def meeting_of(meeting_id: str) -> dict[str, Any] | None:
        return store.items.get(int(meeting_id)) if meeting_id.isdigit() else None

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return None
        return body if isinstance(body, dict) else None

    @post("/v2/users/me/meetings")
    async def create(request: Request) -> Response:
        checked = guard(request, {"meeting:write", "meeting:write:admin", "meeting:write:meeting"})
        if isinstance(checked, Response):
            return checked
        issued, headers = checked
        body = await body_of(request)
        if body is None:
            return api_error(400, 300, "Request Body should be a valid JSON object.", headers)
        errors = store.validate(body, creating=True)
        if errors:
            return invalid(errors, headers)
        meeting = store.create(body, issued.user)
        if store.answer_delay:
            await asyncio.sleep(store.answer_delay)  # made, the answer not yet on its way
        if store.lose_answers > 0:
            store.lose_answers -= 1
            return api_error(502, 502, "Bad Gateway", headers)
        return Response(content=msgspec.json.encode(meeting), status_code=201, media_type="application/json",
                        headers={**headers, "Content-Location": f"/v2/meetings/{meeting['id']}"})

    @get("/v2/users/me/meetings")
    async def listing_api(request: Request) -> Response:
        checked = guard(request, {"meeting:read", "meeting:read:admin", "meeting:read:list_meetings"})
        if isinstance(checked, Response):
            return checked
        headers = checked[1]
        kind = request.query_params.get("type", "scheduled")
        if kind not in ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"):
            return api_error(400, 300, f"Invalid field: type {kind}.", headers)
        try:
            size = int(request.query_params.get("page_size", 30))
        except ValueError:
            size = -1
        if not 1 <= size <= MAX_PAGE:
            return api_error(400, 300, f"Invalid field: page_size must be between 1 and {MAX_PAGE}.", headers)
        token = request.query_params.get("next_page_token")
        start = _offset(token) if token else 0
        if start is None:
            return api_error(400, 300, "Invalid next_page_token.", headers)
        # Every meeting of the sandbox user that is not over ("scheduled": previous but
        # unexpired, live and upcoming), in creation order.
        items = [{k: m[k] for k in ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone",
                                    "agenda", "created_at", "join_url")}
                 for m in store.items.values() if m["status"] != "finished"]
        page = items[start:start + size]
        more = start + size < len(items)
        body = {"page_size": size, "total_records": len(items), "next_page_token": _token(start + size) if more else "",
                "meetings": page}
        return Response(content=msgspec.json.encode(body), media_type="application/json", headers=headers)

    @get("/v2/meetings/{meeting_id:str}")
    async def read(request: Request, meeting_id: FromPath[str]) -> Response:
        checked = guard(request, {"meeting:read", "meeting:read:admin", "meeting:read:meeting"})
        if isinstance(checked, Response):
            return checked
        meeting = meeting_of(meeting_id)
        if meeting is None:
            return missing(meeting_id, checked[1])
        return Response(content=msgspec.json.encode(meeting), media_type="application/json", headers=checked[1])

    @patch("/v2/meetings/{meeting_id:str}")
    async def update(request: Request, meeting_id: FromPath[str]) -> Response:
        checked = guard(request, {"meeting:write", "meeting:write:admin", "meeting:update:meeting"})
        if isinstance(checked, Response):
            return checked
        meeting = meeting_of(meeting_id)
        if meeting is None:
            return missing(meeting_id, checked[1])
        body = await body_of(request)
        if body is None:
            return api_error(400, 300, "Request Body should be a valid JSON object.", checked[1])
        errors = store.validate(body, creating=False)
        if errors:
            return invalid(errors, checked[1])
        store.update(meeting, body)
        return Response(content=b"", status_code=204, headers=checked[1])

    @delete("/v2/meetings/{meeting_id:str}", status_code=200)
    async def remove(request: Request, meeting_id: FromPath[str]) -> Response:
        checked = guard(request, {"meeting:write", "meeting:write:admin", "meeting:delete:meeting"})
        if isinstance(checked, Response):
            return checked
        meeting = meeting_of(meeting_id)
        if meeting is None:
            return missing(meeting_id, checked[1])
        del store.items[meeting["id"]]
        store.calls[meeting["id"]].append("delete")
        return Response(content=b"", status_code=204, headers=checked[1])

    @get("/v2/report/meetings/{meeting_id:str}/participants")
    async def participants(request: Request, meeting_id: FromPath[str]) -> Response:
        checked = guard(request, {"report:read:admin", "report:read:list_meeting_participants:admin"})
        if isinstance(checked, Response):
            return checked
        headers = checked[1]
        key = int(meeting_id) if meeting_id.isdigit() else None
        records = store.report(key) if key is not None else None
        if records is None:
            return missing(meeting_id, headers)
        try:
            size = int(request.query_params.get("page_size", 30))
        except ValueError:
            size = -1
        if not 1 <= size <= MAX_PAGE:
            return api_error(400, 300, f"Invalid field: page_size must be between 1 and {MAX_PAGE}.", headers)
        start = 0
        token = request.query_params.get("next_page_token")
        if token:
            start = _offset(token)
            if start is None:
                return api_error(400, 300, "Invalid next_page_token.", headers)
        page = records[start:start + size]
        store.calls.setdefault(key, []).append("report")  # type: ignore[arg-type]
        more = start + size < len(records)
        return Response({
            "page_count": max(1, -(-len(records) // size)),
            "page_size": size,
            "total_records": len(records),
            "next_page_token": _token(start + size) if more else "",
            "participants": page,
        }, headers=headers)

    @patch("/v2/meetings/{meeting_id:str}/recordings/settings")
    async def recording_settings(request: Request, meeting_id: FromPath[str]) -> Response:
        checked = guard(request, {"recording:write", "recording:write:admin", "cloud_recording:update:recording_settings"})
        if isinstance(checked, Response):
            return checked
        meeting = meeting_of(meeting_id)
        if meeting is None:
            return missing(meeting_id, checked[1])
        if meeting["id"] not in store.reports or meeting["settings"].get("auto_recording") != "cloud":
            return api_error(404, 3301, "There is no recording for this meeting.", checked[1])
        body = await body_of(request) or {}
        meeting.setdefault("recording_settings", {}).update(body)
        store.calls[meeting["id"]].append("recording-settings")
        return Response(content=b"", status_code=204, headers=checked[1])

    @post("/_control/meetings/{meeting_id:str}/play", status_code=200)
    async def play(meeting_id: FromPath[str], data: JSONBody[dict[str, Any]]) -> Response:
        meeting = meeting_of(meeting_id)
        if meeting is None:
            return Response({"error": f"no meeting {meeting_id}"}, status_code=404)
        records = store.play(meeting, data)
        if ended is not None:  # the meeting is over: Zoom sends meeting.ended
            ended(meeting)
        return Response({"records": records})

    @post("/_control/clock", status_code=200, sync_to_thread=False)
    def clock(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        store.skew += float(data.get("advance", 0))
        return {"skew": store.skew}

    @post("/_control/meetings/lose-answers", status_code=200, sync_to_thread=False)
    def lose_answers(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        store.lose_answers = int(data.get("count", 1))
        store.answer_delay = float(data.get("delay", 0))
        return {"loseAnswers": store.lose_answers, "delay": store.answer_delay}

    @post("/_control/meetings/next-id", status_code=200, sync_to_thread=False)
    def next_id(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        store.next_id = int(data["id"])
        return {"nextId": str(store.next_id)}

    @get("/_control/meetings", sync_to_thread=False)
    def listing() -> Response:
        # Ids as JSON numbers, exactly as Zoom sends them (64-bit).
        data = {"meetings": list(store.items.values()),
                "calls": {str(k): v for k, v in store.calls.items()}}
        return Response(content=msgspec.json.encode(data), media_type="application/json")

    return [create, listing_api, read, update, remove, participants, recording_settings, play, clock, lose_answers,
            next_id, listing]
