"""The access log of ``axhub serve``: one line per request once its answer is sent —
method, path (never the query: OAuth codes and states travel there), status, time and
a request id, also sent back as ``X-Request-ID`` (a caller's own id is kept when it is a
plain token, so the hub's line can be matched with the caller's). Requests to the
mounted sandboxes are the hub talking to itself: logged at DEBUG."""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Awaitable, Callable

from ..ids import new_id
from ..oplog import ACCESS, line

Scope = dict[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]
_GIVEN = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def with_access_log(app: ASGI) -> ASGI:
    async def logged(scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        request_id = given if _GIVEN.match(given) else new_id("req")
        started = time.perf_counter()
        status = [500]  # what the line says if the app fails before answering

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            level = logging.DEBUG if path.startswith("/sandbox/") else logging.INFO
            if ACCESS.isEnabledFor(level):
                client = (scope.get("client") or ("-",))[0]
                ACCESS.log(level, line("request", method=scope.get("method"), path=path, status=status[0],
                                       ms=round((time.perf_counter() - started) * 1000, 1), id=request_id, client=client))

    return logged
