"""One Graph call, direct or inside a ``$batch``, through the same pipeline: injected
fault, token, throttling, scopes, the operation itself; then the request log.

``$batch`` follows Graph's JSON batching: ``{"requests": [{"id", "method", "url",
"headers", "body"}]}``, at most 20, relative URLs, a ``Content-Type`` header on every
request with a body, no ``dependsOn`` (the sandbox does not sequence); the answer's
``responses`` come in any order (shuffled here, so clients must match by ``id``), each
throttled one a 429 with its own ``Retry-After``.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timezone
import re
import time
from collections import Counter, deque
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from axhub.sandbox import Faults, OAuthServer

from .sandbox_media import GRAPH_FAULTS
from .sandbox_event_rules import GraphFault, bad, not_found
from .sandbox_outlook import Outlook
from .sandbox_teams import Teams

MAX_BATCH = 20
LOG_SIZE = 5000
READ = ("Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic")
WRITE = ("Calendars.ReadWrite",)
CATEGORIES_READ = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
CATEGORIES_WRITE = ("MailboxSettings.ReadWrite",)
MEETINGS_READ = ("OnlineMeetings.Read", "OnlineMeetings.ReadWrite")
MEETINGS_WRITE = ("OnlineMeetings.ReadWrite",)
# Group.ReadWrite.All is the older, broader permission that Graph still accepts for posting.
CHANNEL_SEND = ("ChannelMessage.Send", "Group.ReadWrite.All")

_CAL = r"/me/(?:calendar|calendars/(?P<cid>[^/]+))"
ROUTES: list[tuple[re.Pattern, dict[str, tuple[str, tuple[str, ...]]]]] = [
    (re.compile(r"/me(?:/calendar|/calendars/(?P<cid>[^/]+))?/calendarView/delta"), {"GET": ("calendarView.delta", READ)}),
    (re.compile(_CAL + r"/events"), {"GET": ("events.list", READ), "POST": ("events.create", WRITE)}),
    (re.compile(r"/me/events/(?P<eid>[^/]+)"), {"GET": ("events.get", READ), "PATCH": ("events.update", WRITE),
                                                 "DELETE": ("events.delete", WRITE)}),
    (re.compile(r"/me/outlook/masterCategories"), {"GET": ("categories.list", CATEGORIES_READ),
                                                   "POST": ("categories.create", CATEGORIES_WRITE)}),
    (re.compile(r"/me/onlineMeetings"), {"GET": ("onlineMeetings.list", MEETINGS_READ)}),
    (re.compile(r"/me/onlineMeetings/(?P<mid>[^/]+)"), {"GET": ("onlineMeetings.get", MEETINGS_READ),
                                                        "PATCH": ("onlineMeetings.update", MEETINGS_WRITE)}),
    (re.compile(r"/teams/(?P<tid>[^/]+)/channels/(?P<chid>[^/]+)/messages"), {"POST": ("channelMessages.create", CHANNEL_SEND)}),
]
_PREFER_TZ = re.compile(r'outlook\.timezone="([^"]+)"')
_PREFER_PAGE = re.compile(r"odata\.maxpagesize=(\d+)")
_PREFER_TEXT = re.compile(r'outlook\.body-content-type="?text"?')
_CLAUSE = re.compile(r"(start|end)/dateTime (lt|le|gt|ge) '([0-9T:.\-]+)'")
_COMPARE = {"lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


@dataclasses.dataclass
class Call:
    method: str
    path: str  # below /v1.0, percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any = None
    base: str = ""  # the absolute URL of /v1.0 as the caller reached it, for nextLink/deltaLink


@dataclasses.dataclass
class Result:
    status: int
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def error(fault: GraphFault, request_id: str = "") -> Result:
    return Result(fault.status, {"error": {"code": fault.code, "message": fault.message,
                                           "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                          "request-id": request_id, "client-request-id": request_id}}},
                  dict(fault.headers))


@dataclasses.dataclass
class Throttle:
    """A sliding-window limit over every Graph call (a batched one counts alone)."""

    limit: int | None = None
    window: float = 10.0
    hits: deque = dataclasses.field(default_factory=deque)

    def take(self) -> tuple[float | None, float | None]:
        """(wait, used share): wait is set when the call is refused."""
        if self.limit is None:
            return None, None
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return max(0.001, self.hits[0] + self.window - now), 1.0
        self.hits.append(now)
        return None, len(self.hits) / self.limit


class GraphApi:
    def __init__(self, server: OAuthServer, faults: Faults, outlook: Outlook, calendars: dict[str, Any],
                 default_calendar: str, scope_of: Callable[[str], str], teams: Teams) -> None:
        self.server, self.faults, self.outlook, self.teams = server, faults, outlook, teams
        self.calendars, self.default_calendar, self.scope_of = calendars, default_calendar, scope_of
        self.throttle = Throttle()
        self.refused: dict[tuple[str, str, str], float] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.counters: Counter[str] = Counter()
        self.rng = random.Random(8)

    def reset(self) -> None:
        self.outlook.reset()
        self.teams.reset()
        self.throttle = Throttle()
        self.refused.clear()
        self.log.clear()
        self.counters.clear()

    # -- the pipeline --------------------------------------------------------------------
    def handle(self, call: Call, authorization: str | None) -> Result:
        result = self._handle(call, authorization)
        self.log.append({"method": call.method, "path": call.path, "query": call.query, "body": call.body,
                         "status": result.status, "headers": dict(result.headers), "response": result.body})
        return result

    def _handle(self, call: Call, authorization: str | None) -> Result:
        operation = None
        for pattern, methods in ROUTES:
            match = pattern.fullmatch(call.path)
            if match:
                operation = methods.get(call.method)
                if operation is None:
                    return error(GraphFault(405, "Request_BadRequest", f"The HTTP method '{call.method}' is not allowed."))
                break
        if operation is None:
            return error(GraphFault(400, "BadRequest", f"Resource not found for the segment '{call.path.rsplit('/', 1)[-1]}'."))
        name, scopes = operation
        refused, used = self.admit(call, authorization, name, scopes)
        if refused is not None:
            return refused
        try:
            result = self._operation(name, match, call)
        except GraphFault as exc:
            return error(exc)
        if used is not None and used >= 0.8:
            result.headers["x-ms-throttle-limit-percentage"] = f"{used:.1f}"
        return result

    def admit(self, call: Call, authorization: str | None, name: str,
              scopes: tuple[str, ...]) -> tuple[Result | None, float | None]:
        """What every call goes through before its operation (the subscriptions' routes
        too): an injected fault, the token, throttling, the scopes. (the refusal or None,
        the share of the throttling limit used)."""
        self.counters[name] += 1
        fault = self.faults.take(call.method, "/v1.0" + call.path, per_call=True)
        if fault is not None and fault.status:
            code, message = GRAPH_FAULTS.get(fault.status, ("UnknownError", f"HTTP {fault.status}"))
            headers = {"Retry-After": "0.128"} if fault.status in (429, 503) else {}
            if fault.body is not None:
                return Result(fault.status, fault.body, {**headers, **fault.headers}), None
            return error(GraphFault(fault.status, code, message, {**headers, **fault.headers})), None
        issued = self.server.bearer(authorization)
        if issued is None:
            return error(GraphFault(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")), None
        # A request sent again before the Retry-After it was given is counted: Graph
        # holds such early retries against the app.
        key = (call.method, call.path, json.dumps(call.body, sort_keys=True))
        due = self.refused.pop(key, None)
        if due is not None and time.monotonic() < due:
            self.counters["throttle.early"] += 1
        wait, used = self.throttle.take()
        if wait is not None:
            self.counters["throttled"] += 1
            self.refused[key] = time.monotonic() + wait
            return error(GraphFault(429, "TooManyRequests", "Please retry again later.",
                                    {"Retry-After": f"{wait:.3f}", "x-ms-throttle-information": "ResourceUnitLimitExceeded"})), None
        granted = {self.scope_of(s).lower() for s in issued.scopes}
        if not granted & {s.lower() for s in scopes}:
            return error(GraphFault(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")), None
        return None, used

    def _calendar(self, match: re.Match) -> str:
        cid = match.groupdict().get("cid")
        if cid is None:
            return self.default_calendar
        if cid not in self.calendars:
            raise not_found()
        return cid

    def _operation(self, name: str, match: re.Match, call: Call) -> Result:
        prefer = call.headers.get("prefer", "")
        tz_match = _PREFER_TZ.search(prefer)
        tz = tz_match.group(1) if tz_match else None
        applied = {"Preference-Applied": f'outlook.timezone="{tz}"'} if tz else {}
        outlook = self.outlook
        outlook.as_text = bool(_PREFER_TEXT.search(prefer))
        if name == "calendarView.delta":
            page = _PREFER_PAGE.search(prefer)
            size = min(int(page.group(1)), 1000) if page else 10
            items, skip, delta = outlook.delta(self._calendar(match), call.query, max(1, size), tz)
            path = call.path
            body: dict[str, Any] = {"@odata.context": f"{call.base}/$metadata#Collection(event)", "value": items}
            if skip:
                body["@odata.nextLink"] = f"{call.base}{path}?$skiptoken={skip}"
            else:
                body["@odata.deltaLink"] = f"{call.base}{path}?$deltatoken={delta}"
            headers = {**applied}
            if page:
                headers["Preference-Applied"] = ", ".join(filter(None, [headers.get("Preference-Applied"), f"odata.maxpagesize={size}"]))
            return Result(200, body, headers)
        if name == "events.list":
            items = outlook.listing(self._calendar(match), tz, _filter(call.query.get("$filter")))
            top = int(call.query.get("$top") or 10)
            skip = int(call.query.get("$skip") or 0)
            page = items[skip:skip + top]
            body = {"@odata.context": f"{call.base}/$metadata#users('me')/events", "value": _select(page, call.query)}
            if skip + top < len(items):
                body["@odata.nextLink"] = f"{call.base}{call.path}?$top={top}&$skip={skip + top}" + (
                    f"&$select={call.query['$select']}" if call.query.get("$select") else "")
            return Result(200, body, applied)
        if name == "events.create":
            event, new = outlook.create(self._calendar(match), call.body)
            return Result(201, outlook.view(event, tz), applied)
        if name == "events.get":
            return Result(200, outlook.view(outlook.live(match["eid"]).event, tz), applied)
        if name == "events.update":
            return Result(200, outlook.view(outlook.update(match["eid"], call.body), tz), applied)
        if name == "events.delete":
            outlook.delete(match["eid"])
            return Result(204)
        if name == "categories.list":
            return Result(200, {"@odata.context": f"{call.base}/$metadata#users('me')/outlook/masterCategories",
                                "value": list(outlook.categories)})
        if name == "categories.create":
            return Result(201, outlook.add_category(call.body))
        if name.startswith("onlineMeetings."):
            context = {"@odata.context": f"{call.base}/$metadata#users('{self.teams.user_id}')/onlineMeetings"}
            if name == "onlineMeetings.list":
                return Result(200, {**context, "value": self.teams.find(call.query)})
            if name == "onlineMeetings.get":
                return Result(200, {**context, **self.teams.meeting(match["mid"])})
            return Result(200, {**context, **self.teams.patch_meeting(match["mid"], call.body)})
        if name == "channelMessages.create":
            message = self.teams.post(match["tid"], match["chid"], call.body)
            return Result(201, {"@odata.context": f"{call.base}/$metadata#teams('{match['tid']}')/channels"
                                                  f"('{match['chid']}')/messages/$entity", **message})
        raise AssertionError(name)

    # -- $batch --------------------------------------------------------------------------
    def batch(self, payload: Any, authorization: str | None, base: str) -> Result:
        self.counters["batch"] += 1
        requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests, list) or not requests:
            return error(bad("Invalid batch payload format.", "BadRequest"))
        if len(requests) > MAX_BATCH:
            return error(bad(f"The number of batch requests ({len(requests)}) exceeds the limit of {MAX_BATCH}.", "BadRequest"))
        ids = [r.get("id") if isinstance(r, dict) else None for r in requests]
        if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
            return error(bad("Batch request ids must be unique non-empty strings.", "BadRequest"))
        responses = []
        for request in requests:
            if "dependsOn" in request:
                return error(bad("dependsOn is not supported by this sandbox.", "BadRequest"))
            method, url = str(request.get("method", "")).upper(), request.get("url")
            headers = {str(k).lower(): str(v) for k, v in (request.get("headers") or {}).items()}
            if not isinstance(url, str) or url.startswith("http") or method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                return error(bad("Each request needs a method and a URL relative to the version, such as /me/events.", "BadRequest"))
            if "body" in request and "content-type" not in headers:
                responses.append({"id": request["id"], "status": 400, "body": error(bad(
                    f"Write request id : {request['id']} does not contain Content-Type header or body.", "BadRequest")).body})
                continue
            parts = urlsplit(url if url.startswith("/") else "/" + url)
            call = Call(method, unquote(parts.path), dict(parse_qsl(parts.query)), headers, request.get("body"), base)
            result = self.handle(call, authorization)
            answer: dict[str, Any] = {"id": request["id"], "status": result.status,
                                      "headers": {"Content-Type": "application/json", **result.headers}}
            if result.body is not None:
                answer["body"] = result.body
            responses.append(answer)
        self.rng.shuffle(responses)  # Graph answers in any order
        return Result(200, {"responses": responses})


def _select(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    chosen = [f.strip() for f in (query.get("$select") or "").split(",") if f.strip()]
    if not chosen:
        return items
    return [{k: v for k, v in item.items() if k in chosen or k in ("id", "@odata.etag")} for item in items]


# The subscriptions' calls (sandbox_push) pass the same admission, then run their own
# operation: creating one waits for the validation handshake.
SUBSCRIPTIONS = re.compile(r"/subscriptions(?:/(?P<sid>[^/]+))?")


def route_of(path: str) -> bool:
    """Whether ``path`` (below /v1.0) is one of the calls the pipeline serves."""
    return any(pattern.fullmatch(path) for pattern, _ in ROUTES) or bool(SUBSCRIPTIONS.fullmatch(path))


def _filter(text: str | None) -> Callable[[Any], bool] | None:
    """The ``$filter`` forms the sandbox understands: ``start/dateTime`` and
    ``end/dateTime`` compared with a UTC wall-clock time, joined by ``and`` or ``or``."""
    if not text:
        return None
    joiner = " or " if " or " in text else " and "
    clauses = []
    for part in text.split(joiner):
        match = _CLAUSE.fullmatch(part.strip().strip("()"))
        if not match:
            raise bad(f"Invalid filter clause: {part.strip()}", "BadRequest")
        field, op, value = match.groups()
        moment = datetime.fromisoformat(value[:26]).replace(tzinfo=timezone.utc)
        clauses.append((field, _COMPARE[op], moment))

    def keep(stored: Any) -> bool:
        results = (compare(stored.start if field == "start" else stored.end, moment) for field, compare, moment in clauses)
        return any(results) if joiner == " or " else all(results)

    return keep
