"""Litestar routes of the Calendar part of the Google sandbox: the API (thin: every route
hands a :class:`Call` to the shared pipeline), the batch endpoint, and the
``/_control`` routes tests and benchmarks use to seed, inspect and trouble the calendar.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, route
from litestar.params import FromPath

from . import sandbox_batch
from .sandbox_calls import Call, CalendarApi, Result, route as route_of
from .sandbox_events import ApiError


def to_response(result: Result) -> Response:
    if result.body is None:  # 204, 304
        return Response(content=b"", status_code=result.status, headers=result.headers)
    return Response(content=result.body, status_code=result.status, headers=result.headers,
                    media_type="application/json; charset=UTF-8")


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = msgspec.json.decode(raw)
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


def _bad(message: str) -> Response:
    return Response({"error": message}, status_code=400)


def api_routes(api: CalendarApi) -> list[Any]:
    async def forward(request: Request) -> Response:
        # "http.*" counts HTTP requests (a batch is one), the bare method ids count calls.
        found = route_of(request.method, request.url.path)
        api.counters[f"http.{found[0] if found else 'unknown'}"] += 1
        call = Call(request.method, request.url.path, list(request.query_params.multi_items()),
                    dict(request.headers.items()), await request.body())
        return to_response(await api.handle(call))

    # Path parameters are declared for routing only: the pipeline reads the path itself,
    # the same way for direct and batched calls.
    @route("/calendar/v3/calendars/{calendar_id:str}/events", http_method=["GET", "POST"], status_code=200)
    async def events(request: Request, calendar_id: FromPath[str]) -> Response:
        return await forward(request)

    @route("/calendar/v3/calendars/{calendar_id:str}/events/{event_id:str}",
           http_method=["GET", "PATCH", "PUT", "DELETE"], status_code=200)
    async def event(request: Request, calendar_id: FromPath[str], event_id: FromPath[str]) -> Response:
        return await forward(request)

    @post("/calendar/v3/calendars/{calendar_id:str}/events/watch", status_code=200)
    async def watch(request: Request, calendar_id: FromPath[str]) -> Response:
        return await forward(request)

    @post("/calendar/v3/channels/stop", status_code=200)
    async def stop(request: Request) -> Response:
        return await forward(request)

    @get("/calendar/v3/calendars/{calendar_id:str}")
    async def calendar(request: Request, calendar_id: FromPath[str]) -> Response:
        return await forward(request)

    @post("/batch/calendar/v3", status_code=200)
    async def batch(request: Request) -> Response:
        api.counters["http.batch"] += 1
        status, headers, content = await sandbox_batch.run(api, request.headers.get("content-type", ""),
                                                           dict(request.headers.items()), await request.body())
        if isinstance(content, bytes):
            return Response(content=content, status_code=status, headers=headers, media_type=headers["Content-Type"])
        return Response(content=content, status_code=status)

    return [events, event, watch, stop, calendar, batch]


def control_routes(api: CalendarApi) -> list[Any]:
    cal = api.calendar

    @post("/_control/chaos", status_code=200)
    async def chaos_on(request: Request) -> Response:
        try:
            return Response(api.chaos.configure(await _json(request)))
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            return _bad(str(exc))

    @delete("/_control/chaos", status_code=200, sync_to_thread=False)
    def chaos_off() -> dict[str, Any]:
        api.chaos.reset()
        return api.chaos.describe()

    @get("/_control/chaos", sync_to_thread=False)
    def chaos_view() -> dict[str, Any]:
        return api.chaos.describe()

    @post("/_control/rate-limit", status_code=200)
    async def rate_limit_on(request: Request) -> Response:
        try:
            return Response(api.limiter.configure(await _json(request)))
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            return _bad(str(exc))

    @delete("/_control/rate-limit", status_code=200, sync_to_thread=False)
    def rate_limit_off() -> dict[str, Any]:
        api.limiter.reset()
        return {"perSecond": None}

    @post("/_control/expire-sync-tokens", status_code=200, sync_to_thread=False)
    def expire_sync_tokens() -> dict[str, Any]:
        cal.expire_sync_tokens()
        return {"ok": True}

    @post("/_control/calendar/seed", status_code=200)
    async def seed(request: Request) -> Response:
        try:
            data = await _json(request)
            count = int(data.get("count", 0))
            if not 0 < count <= 200_000:
                raise ValueError("count is between 1 and 200000")
            minutes = int(data.get("durationMinutes", 60))
            ids = cal.seed(count, data.get("start"), str(data.get("prefix") or "Seeded event"), data.get("idPrefix"),
                           minutes, int(data.get("intervalMinutes", minutes)), data.get("extendedProperties"))
        except ApiError as exc:
            return _bad(exc.message)
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            return _bad(str(exc))
        return Response({"created": len(ids), "ids": ids})

    @get("/_control/calendar/events", sync_to_thread=False)
    def all_events() -> dict[str, Any]:
        return {"items": [s.event for s in cal.events.values()]}

    @delete("/_control/calendar", status_code=200, sync_to_thread=False)
    def empty() -> dict[str, Any]:
        cal.reset()  # sync tokens expire with it: they described a calendar that is gone
        return {"ok": True}

    @get("/_control/calendar/log", sync_to_thread=False)
    def log(request: Request) -> dict[str, Any]:
        after = int(request.query_params.get("after", 0))
        entries = [e for e in api.log if e["n"] > after]
        return {"entries": entries, "total": api.logged, "kept": len(api.log)}

    @post("/_control/calendar/config", status_code=200)
    async def configure(request: Request) -> Response:
        try:
            data = await _json(request)
        except (ValueError, msgspec.DecodeError) as exc:
            return _bad(str(exc))
        if "shortPages" in data:
            cal.short_pages = bool(data["shortPages"])
        if "logSize" in data:
            from collections import deque

            api.log = deque(api.log, maxlen=max(1, int(data["logSize"])))
        return Response({"shortPages": cal.short_pages, "logSize": api.log.maxlen})

    @get("/_control/push")
    async def push_view() -> dict[str, Any]:
        await api.push.settle()  # what was sent is known once it is answered
        return api.push.describe()

    @post("/_control/push", status_code=200)
    async def push_configure(request: Request) -> Response:
        try:
            return Response(api.push.configure(await _json(request)))
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            return _bad(str(exc))

    @post("/_control/push/expire", status_code=200)
    async def push_expire(request: Request) -> Response:
        try:
            data = await _json(request)
        except (ValueError, msgspec.DecodeError) as exc:
            return _bad(str(exc))
        return Response({"expired": api.push.expire(data.get("id"))})

    return [chaos_on, chaos_off, chaos_view, rate_limit_on, rate_limit_off, expire_sync_tokens, seed, all_events,
            empty, log, configure, push_view, push_configure, push_expire]
