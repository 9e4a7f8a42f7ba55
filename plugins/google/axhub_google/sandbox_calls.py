"""One Calendar API call, direct or batched, through the same pipeline: route, injected
fault, chaos, credentials and scopes, rate limit, the method itself; then counters and
the request/response log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter, deque
from typing import Any

import msgspec

from axhub.sandbox import Faults, OAuthServer

from .sandbox_calendar import CALENDAR_TZ, Calendar
from .sandbox_chaos import Chaos, RateLimiter
from .sandbox_errors import INSUFFICIENT_SCOPES, UNAUTHENTICATED, error_body, outage, rate_limited
from .sandbox_events import ApiError, stamp, now_ms
from .sandbox_push import Push

GOOGLE = "https://www.googleapis.com"  # the resourceUri of a channel names Google's real address

LOG_SIZE = 20_000  # entries kept by default; older ones drop off the front

_WATCH = re.compile(r"/calendar/v3/calendars/([^/]+)/events/watch")
_STOP = re.compile(r"/calendar/v3/(channels)/stop")
_EVENTS = re.compile(r"/calendar/v3/calendars/([^/]+)/events")
_EVENT = re.compile(r"/calendar/v3/calendars/([^/]+)/events/([^/]+)")
_CALENDAR = re.compile(r"/calendar/v3/calendars/([^/]+)")
ROUTES = ((_WATCH, {"POST": "events.watch"}), (_STOP, {"POST": "channels.stop"}),
          (_EVENTS, {"GET": "events.list", "POST": "events.insert"}),
          (_EVENT, {"GET": "events.get", "PATCH": "events.patch", "PUT": "events.update", "DELETE": "events.delete"}),
          (_CALENDAR, {"GET": "calendars.get"}))

_G = "https://www.googleapis.com/auth/"
_READ = frozenset(_G + s for s in ("calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy",
                                   "calendar.events.owned", "calendar.events.owned.readonly",
                                   "calendar.events.public.readonly", "calendar.events.readonly", "calendar.readonly"))
_WRITE = frozenset(_G + s for s in ("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned"))
# Scopes each method accepts, from the discovery document.
SCOPES = {"events.list": _READ, "events.get": _READ, "events.watch": _READ, "channels.stop": _READ,
          "events.insert": _WRITE, "events.patch": _WRITE,
          "events.update": _WRITE, "events.delete": _WRITE,
          "calendars.get": frozenset(_G + s for s in ("calendar", "calendar.app.created", "calendar.calendars",
                                                      "calendar.calendars.readonly", "calendar.readonly"))}


@dataclasses.dataclass(slots=True)
class Call:
    method: str
    path: str  # percent-decoded, from /calendar/v3/
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    content_id: str | None = None  # set on batched calls


@dataclasses.dataclass(slots=True)
class Result:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            method_id = methods.get(method)
            return (method_id, match.groups()) if method_id else None
    return None


def _query_view(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


class CalendarApi:
    def __init__(self, server: OAuthServer, faults: Faults) -> None:
        self.server = server
        self.faults = faults
        self.calendar = Calendar(server.user.email)
        self.push = Push()
        self.calendar.on_change = self.push.changed
        self.chaos = Chaos()
        self.limiter = RateLimiter()
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.logged = 0

    def reset(self) -> None:
        self.calendar.reset()
        self.push.reset()
        self.calendar.short_pages = True
        self.chaos.reset()
        self.limiter.reset()
        self.counters.clear()
        self.log = deque(maxlen=LOG_SIZE)
        self.logged = 0

    async def handle(self, call: Call) -> Result:
        found = route(call.method, call.path)
        method_id = found[0] if found else None
        self.counters[method_id or "unknown"] += 1
        body: Any = None
        if call.body.strip():
            try:
                body = msgspec.json.decode(call.body)
            except msgspec.DecodeError:
                body = ...  # unparseable: a write answers 400 parseError
        try:
            result = await self._run(call, found, body)
        except ApiError as exc:
            result = Result(exc.status, error_body(exc.status, exc.message, exc.reason, exc.domain), exc.headers)
        self._record(call, method_id, body, result)
        return result

    async def _run(self, call: Call, found: tuple[str, tuple[str, ...]] | None, body: Any) -> Result:
        fault = self.faults.take(call.method, call.path, per_call=True)
        if fault is not None:
            self.counters["faults.injected"] += 1
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                return Result(fault.status, fault.body if fault.body is not None else error_body(fault.status, "Injected fault"),
                              dict(fault.headers))
        drawn = self.chaos.draw()
        if drawn is not None:
            kind, status = drawn
            self.counters[f"chaos.{status}" if kind == "status" else f"chaos.{kind}"] += 1
            if kind == "status":
                return Result(status, outage(status), {"Retry-After": "1"} if status == 429 else {})
            await asyncio.sleep(self.chaos.timeout_seconds)
            if kind == "lost":
                return Result(503, outage(503))
        if found is None:
            return Result(404, error_body(404, "Not Found (this method is not part of the axhub sandbox)", "notFound"))
        method_id, (calendar_id, *event_id) = found
        issued = self.server.bearer(call.headers.get("authorization"))
        if issued is None:
            return Result(401, UNAUTHENTICATED, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        if not SCOPES[method_id].intersection(issued.scopes):
            return Result(403, INSUFFICIENT_SCOPES, {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                                     'error="insufficient_scope"'})
        if not self.limiter.allow():
            self.counters["rateLimited"] += 1
            status = self.limiter.status
            return Result(status, rate_limited(status), {"Retry-After": "1"} if status == 429 else {})
        if method_id == "channels.stop":
            if body is ... or not isinstance(body, dict):
                raise ApiError(400, "Parse Error", "parseError")
            self.push.stop(body)
            return Result(204)
        if calendar_id not in ("primary", issued.user.email):
            return Result(404, error_body(404, "Not Found", "notFound"))
        return self._method(method_id, event_id[0] if event_id else "", call, body)

    def _method(self, method_id: str, event_id: str, call: Call, body: Any) -> Result:
        cal = self.calendar
        if method_id == "calendars.get":
            return Result(200, {"kind": "calendar#calendar", "etag": '"sbx-etag-1"', "id": cal.email,
                                "summary": cal.email, "timeZone": CALENDAR_TZ})
        if method_id == "events.list":
            query: dict[str, list[str]] = {}
            for key, value in call.query:
                query.setdefault(key, []).append(value)
            return Result(200, cal.list(query))
        if method_id == "events.get":
            event = cal.get(event_id, call.headers)
            return Result(304) if event is None else _event(event)
        if method_id == "events.delete":
            cal.delete(event_id, call.headers)
            return Result(204)
        if body is ... or (body is not None and not isinstance(body, dict)):
            raise ApiError(400, "Parse Error", "parseError")
        body = body or {}
        if method_id == "events.insert":
            return _event(cal.insert(body))
        if method_id == "events.watch":
            watched = _WATCH.fullmatch(call.path)
            return Result(200, self.push.watch(watched.group(1) if watched else "primary", body, GOOGLE))
        return _event(cal.update(event_id, body, call.headers, patch=method_id == "events.patch"))

    def _record(self, call: Call, method_id: str | None, body: Any, result: Result) -> None:
        self.logged += 1
        self.log.append({
            "n": self.logged, "at": stamp(now_ms()), "methodId": f"calendar.{method_id}" if method_id else None,
            "method": call.method, "path": call.path, "query": _query_view(call.query),
            "body": call.body.decode("utf-8", "replace") if body is ... else body,
            "status": result.status, "response": result.body, "batch": call.content_id is not None,
            "contentId": call.content_id,
        })


def _event(event: dict[str, Any]) -> Result:
    return Result(200, event, {"ETag": event["etag"]})
