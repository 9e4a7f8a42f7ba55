"""What every API request must be before a handler reads it: a JSON body that is JSON,
no deeper than :data:`MAX_DEPTH`, no larger than :data:`MAX_BODY`.

msgspec decodes recursively, so a body of 100,000 nested arrays would exhaust Python's
stack inside the decoder; the depth is measured first, on the bytes, without decoding.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response

from ..errors import ApiError
from ..validation import strict

MAX_BODY = 1024 * 1024  # 1 MiB: a settings or event body is a few KB; webhooks' payloads are built by the hub
MAX_DEPTH = 32  # the deepest body the spec describes (settings.filters…) is five levels
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but the brackets, to delete
_JSON = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


def depth(body: bytes) -> int:
    """How deeply a JSON text nests its arrays and objects (brackets in strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be too deep: the common case costs two counts
    brackets = _STRINGS.sub(b"", body).translate(None, _BRACKETS)
    level = deepest = 0
    for byte in brackets:
        level += 1 if byte in b"[{" else -1
        deepest = max(deepest, level)
    return deepest


def is_json(content_type: str) -> bool:
    return bool(_JSON.match(content_type.split(";", 1)[0].strip().lower()))


async def before_request(request: Request) -> Response | None:
    """Litestar's ``before_request`` hook: OPTIONS answered, bodies checked."""
    if request.method == "OPTIONS":
        return await answer_options(request)
    await check_body(request)
    return None


async def check_body(request: Request) -> None:
    """415 for a non-JSON body, 400 for one nested too deeply. Litestar itself answers
    413 past ``request_max_body_size``."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.url.path.startswith("/api/"):
        return
    body = await request.body()  # cached: the handler's decoding reads the same bytes
    if not body:
        return
    content_type = request.headers.get("content-type", "")
    if not is_json(content_type):
        raise ApiError("UNSUPPORTED_MEDIA_TYPE",
                       f"the body must be JSON (Content-Type: application/json), not {content_type or 'untyped'}",
                       field="body")
    if depth(body) > MAX_DEPTH:
        raise ApiError("VALIDATION_ERROR", f"body: nested more than {MAX_DEPTH} levels deep", field="body")
    declared = _body_type(request)
    if declared is not None:
        # Litestar converts bodies leniently ("300" for an integer, 0 for a date-time);
        # the body is held to its declared schema first, exactly as the OpenAPI says it.
        try:
            parsed = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise ApiError("VALIDATION_ERROR", f"body: malformed JSON ({exc})", field="body") from None
        strict(parsed, declared)


def _body_type(request: Request) -> Any:
    """The type a route's ``data`` is declared as (None: the route takes no body)."""
    handler = request.scope.get("route_handler")
    field = handler.parsed_fn_signature.parameters.get("data") if handler is not None else None
    return field.annotation if field is not None else None


async def answer_options(request: Request) -> Response | None:
    """``OPTIONS`` on an API path: 204 with every method the path has (Litestar's own
    answer lists only the methods of one handler of the path)."""
    if request.method != "OPTIONS" or not request.url.path.startswith("/api/"):
        return None
    handler = request.scope.get("route_handler")
    paths = getattr(handler, "paths", set())
    methods = {method for route in request.app.routes if route.path in paths
               for method in getattr(route, "methods", ())}
    return Response(content=None, status_code=204, headers={"Allow": ", ".join(sorted(methods | {"OPTIONS"}))})
