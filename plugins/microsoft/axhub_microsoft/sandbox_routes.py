"""Litestar routes of the Outlook part of the Graph sandbox: thin routes that hand a
:class:`Call` to the shared pipeline, ``$batch``, and the ``/_control/outlook`` routes
that tests and benchmarks use to seed, inspect and age the calendar."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import msgspec
from litestar import Request, Response, delete, get, post, route
from litestar.params import FromPath, JSONBody

from axhub.sandbox import OAuthServer

from .sandbox_calls import Call, GraphApi, Result
from .sandbox_media import ODATA_JSON



def _base(request: Request) -> str:
    """The absolute URL of /v1.0 as this caller reached it (links in answers follow it)."""
    # A mount strips its prefix from the path; the raw path keeps it.
    raw = (request.scope.get("raw_path") or b"").decode() or request.url.path
    return f"{request.url.scheme}://{request.url.netloc}{raw[:raw.index('/v1.0')]}/v1.0"


def _response(result: Result) -> Response:
    if result.body is None:
        return Response(content=b"", status_code=result.status, headers=result.headers)
    return Response(content=msgspec.json.encode(result.body), status_code=result.status, headers=result.headers,
                    media_type=ODATA_JSON)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {"__invalid__": True}


async def _forward(api: GraphApi, request: Request) -> Response:
    api.counters["http"] += 1
    path = unquote(request.url.path)
    call = Call(request.method, path[path.index("/v1.0") + 5:], dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()}, await _body(request), _base(request))
    return _response(api.handle(call, request.headers.get("authorization")))


def outlook_routes(api: GraphApi, server: OAuthServer) -> list[Any]:
    async def forward(request: Request) -> Response:
        return await _forward(api, request)

    # Path parameters are declared for routing only: the pipeline reads the path itself,
    # the same way for direct and batched calls.
    @get(["/v1.0/me/calendarView/delta", "/v1.0/me/calendar/calendarView/delta"])
    async def delta(request: Request) -> Response:
        return await forward(request)

    @get("/v1.0/me/calendars/{calendar_id:str}/calendarView/delta")
    async def calendar_delta(request: Request, calendar_id: FromPath[str]) -> Response:
        return await forward(request)

    @route("/v1.0/me/calendar/events", http_method=["GET", "POST"], status_code=200)
    async def events(request: Request) -> Response:
        return await forward(request)

    @route("/v1.0/me/calendars/{calendar_id:str}/events", http_method=["GET", "POST"], status_code=200)
    async def calendar_events(request: Request, calendar_id: FromPath[str]) -> Response:
        return await forward(request)

    @route("/v1.0/me/events/{event_id:str}", http_method=["GET", "PATCH", "DELETE"], status_code=200)
    async def event(request: Request, event_id: FromPath[str]) -> Response:
        return await forward(request)

    @route("/v1.0/me/outlook/masterCategories", http_method=["GET", "POST"], status_code=200)
    async def categories(request: Request) -> Response:
        return await forward(request)

    @post("/v1.0/$batch", status_code=200)
    async def batch(request: Request) -> Response:
        api.counters["http"] += 1
        return _response(api.batch(await _body(request), request.headers.get("authorization"), _base(request)))

    # -- controls --------------------------------------------------------------------------
    @post("/_control/outlook/seed", status_code=200)
    async def seed(request: Request) -> dict[str, Any]:
        data = await _body(request) or {}
        first = datetime.fromisoformat(str(data.get("start", "2026-01-05T08:00:00Z")).replace("Z", "+00:00"))
        count = api.outlook.seed(data.get("calendarId") or api.default_calendar, int(data.get("count", 1)),
                                 first.astimezone(timezone.utc), str(data.get("prefix", "Seeded")),
                                 int(data.get("minutes", 60)), int(data.get("every", 60)))
        return {"seeded": count}

    @get("/_control/outlook/events", sync_to_thread=False)
    def all_events(request: Request) -> dict[str, Any]:
        calendar = request.query_params.get("calendarId") or api.default_calendar
        return {"value": api.outlook.listing(calendar, None)}

    @delete("/_control/outlook", status_code=200, sync_to_thread=False)
    def empty() -> dict[str, Any]:
        api.outlook.reset()
        return {"ok": True}

    @post("/_control/outlook/expire-delta-tokens", status_code=200, sync_to_thread=False)
    def expire() -> dict[str, Any]:
        api.outlook.expire_delta_tokens()
        return {"ok": True}

    @get("/_control/outlook/categories", sync_to_thread=False)
    def categories_view() -> dict[str, Any]:
        return {"value": list(api.outlook.categories)}

    @get("/_control/outlook/log", sync_to_thread=False)
    def log() -> dict[str, Any]:
        return {"entries": list(api.log)}

    @delete("/_control/outlook/log", status_code=200, sync_to_thread=False)
    def clear_log() -> dict[str, Any]:
        api.log.clear()
        return {"ok": True}

    return [delta, calendar_delta, events, calendar_events, event, categories, batch,
            seed, all_events, empty, expire, categories_view, log, clear_log]


def teams_routes(api: GraphApi) -> list[Any]:
    """Online meetings and channel messages (``sandbox_teams``), through the same pipeline,
    and ``/_control/teams``: what was posted, the meetings made, channels to add."""

    @get("/v1.0/me/onlineMeetings")
    async def meetings(request: Request) -> Response:
        return await _forward(api, request)

    @route("/v1.0/me/onlineMeetings/{meeting_id:str}", http_method=["GET", "PATCH"], status_code=200)
    async def meeting(request: Request, meeting_id: FromPath[str]) -> Response:
        return await _forward(api, request)

    @post("/v1.0/teams/{team_id:str}/channels/{channel_id:str}/messages", status_code=201)
    async def channel_message(request: Request, team_id: FromPath[str], channel_id: FromPath[str]) -> Response:
        return await _forward(api, request)

    @get("/_control/teams/messages", sync_to_thread=False)
    def messages() -> dict[str, Any]:
        return {"messages": list(api.teams.messages)}

    @get("/_control/teams/meetings", sync_to_thread=False)
    def all_meetings() -> dict[str, Any]:
        return {"value": list(api.teams.meetings.values())}

    @post("/_control/teams/channels", status_code=200, sync_to_thread=False)
    def add_channel(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        api.teams.teams.setdefault(str(data["teamId"]), {})[str(data["channelId"])] = str(data.get("displayName") or "Channel")
        return {"teams": api.teams.teams}

    return [meetings, meeting, channel_message, messages, all_meetings, add_channel]
