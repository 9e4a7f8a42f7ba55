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

from .sandbox_calls import READ, Call, GraphApi, Result, error
from .sandbox_event_rules import GraphFault
from .sandbox_media import ODATA_JSON
from .sandbox_push import Subscriptions



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


async def _call(api: GraphApi, request: Request) -> Call:
    api.counters["http"] += 1
    path = unquote(request.url.path)
    return Call(request.method, path[path.index("/v1.0") + 5:], dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()}, await _body(request), _base(request))


async def _forward(api: GraphApi, request: Request) -> Response:
    return _response(api.handle(await _call(api, request), request.headers.get("authorization")))


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


def push_routes(api: GraphApi, push: Subscriptions) -> list[Any]:
    """``/v1.0/subscriptions`` (through the pipeline's admission: faults, token,
    throttling, a calendar scope), ``/_control/push`` (what was delivered; drop, duplicate
    or delay the next notifications; expire a subscription; send a lifecycle event) and
    changes made by the calendar's user (``/_control/outlook/events/{id}``), notified too."""

    async def run(request: Request, name: str, operation) -> Response:
        call = await _call(api, request)
        refused, _used = api.admit(call, request.headers.get("authorization"), name, READ)
        if refused is None:
            try:
                refused = await operation(call)
            except GraphFault as exc:
                refused = error(exc)
        api.log.append({"method": call.method, "path": call.path, "query": call.query, "body": call.body,
                        "status": refused.status, "headers": dict(refused.headers), "response": refused.body})
        return _response(refused)

    @route("/v1.0/subscriptions", http_method=["GET", "POST"], status_code=200)
    async def subscriptions(request: Request) -> Response:
        if request.method == "POST":
            async def create(call: Call) -> Result:
                return Result(201, await push.create(call.body, call.base))
            return await run(request, "subscriptions.create", create)

        async def listing(call: Call) -> Result:
            return Result(200, {"@odata.context": f"{call.base}/$metadata#subscriptions",
                                "value": [{k: v for k, v in push.view(s, call.base).items() if k != "@odata.context"}
                                          for s in push.listing()]})
        return await run(request, "subscriptions.list", listing)

    @route("/v1.0/subscriptions/{sub_id:str}", http_method=["GET", "PATCH", "DELETE"], status_code=200)
    async def subscription(request: Request, sub_id: FromPath[str]) -> Response:
        async def one(call: Call) -> Result:
            if call.method == "GET":
                return Result(200, push.view(push.live(sub_id), call.base))
            if call.method == "PATCH":
                return Result(200, push.renew(sub_id, call.body, call.base))
            push.delete(sub_id)
            return Result(204)
        verb = {"GET": "get", "PATCH": "update", "DELETE": "delete"}[request.method]
        return await run(request, f"subscriptions.{verb}", one)

    @get("/_control/push")
    async def push_view() -> dict[str, Any]:
        await push.settle()  # what was sent is known once it is answered
        return push.describe()

    @post("/_control/push", status_code=200)
    async def push_configure(request: Request) -> dict[str, Any]:
        return push.configure(await _body(request) or {})

    @post("/_control/push/expire", status_code=200)
    async def push_expire(request: Request) -> dict[str, Any]:
        return {"expired": push.expire((await _body(request) or {}).get("id"))}

    @post("/_control/push/lifecycle", status_code=200)
    async def push_lifecycle(request: Request) -> Response:
        data = await _body(request) or {}
        try:
            sent = push.lifecycle(data.get("id"), str(data.get("lifecycleEvent") or ""))
        except ValueError as exc:
            return Response({"error": str(exc)}, status_code=400)
        await push.settle()
        return Response({"sent": sent})

    @route("/_control/outlook/events/{event_id:str}", http_method=["PATCH", "DELETE"], status_code=200)
    async def user_edit(request: Request, event_id: FromPath[str]) -> Response:
        # The calendar's user changing an event in Outlook (not the app): Graph notifies it too.
        try:
            if request.method == "DELETE":
                api.outlook.delete(event_id)
                return Response({"ok": True})
            return Response(api.outlook.view(api.outlook.update(event_id, await _body(request)), None))
        except GraphFault as exc:
            return _response(error(exc))

    return [subscriptions, subscription, push_view, push_configure, push_expire, push_lifecycle, user_edit]
