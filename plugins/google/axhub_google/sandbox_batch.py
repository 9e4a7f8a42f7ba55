"""Google's batch endpoint (``POST /batch/calendar/v3``), as its client libraries speak it.

Request: ``multipart/mixed; boundary=…``; each part is ``Content-Type: application/http``
with an optional ``Content-ID: <x>``, and holds one HTTP request: a request line whose
target is absolute (``/calendar/v3/…``, sometimes ``https://www.googleapis.com/calendar/v3/…``),
headers, a blank line and the JSON body. The outer headers (``Authorization``) apply to
every part unless the part sets its own. CRLF or bare LF line ends are both accepted.

Answer: ``200`` ``multipart/mixed; boundary=batch_…``, one ``application/http`` part per
call in request order, ``Content-ID: <response-x>`` when the call had ``<x>``, holding the
inner status line, headers and JSON body. At most 50 calls, or the whole batch is a 400.
"""

from __future__ import annotations

import re
import secrets
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import msgspec

from .sandbox_calls import Call, CalendarApi, Result
from .sandbox_errors import error_body

MAX_CALLS = 50
_BLANK = re.compile(rb"\r?\n\r?\n")


class BatchError(Exception):
    pass


def boundary_of(content_type: str) -> str:
    kind, *params = content_type.split(";")
    if kind.strip().lower() != "multipart/mixed":
        raise BatchError("A batch request must be multipart/mixed.")
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value.strip('"'):
            return value.strip('"')
    raise BatchError("The multipart/mixed batch request has no boundary.")


def _split(block: bytes) -> tuple[list[str], bytes]:
    """Header lines and what follows the first blank line."""
    match = _BLANK.search(block)
    head, rest = (block[:match.start()], block[match.end():]) if match else (block, b"")
    return [line for line in head.decode("utf-8", "replace").splitlines() if line.strip()], rest


def _headers(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)[1:]  # what precedes the first delimiter is preamble
    out = []
    for chunk in chunks:
        if chunk.startswith(b"--"):
            break  # close delimiter
        # The line break before a delimiter belongs to the delimiter (RFC 2046).
        chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        out.append(chunk)
    return out


def to_call(part: bytes, outer: dict[str, str]) -> Call | Result:
    """The call a part holds, or the per-part 400 Google gives an unreadable one."""
    part_lines, http = _split(part)
    content_id = _headers(part_lines).get("content-id")
    content_id = content_id.strip("<>") if content_id else None
    lines, body = _split(http.lstrip(b"\r\n"))
    request_line = lines[0].split() if lines else []
    if len(request_line) < 2:
        return Result(400, error_body(400, "Bad Request", "badRequest"), {"x-content-id": content_id or ""})
    target = request_line[1]
    if "://" in target:
        split = urlsplit(target)
        target = split.path + (f"?{split.query}" if split.query else "")
    path, _, query = target.partition("?")
    at = path.find("/calendar/v3/")  # tolerate a base path in front (e.g. the hub's /sandbox/google)
    path = unquote(path[at:] if at >= 0 else path)
    headers = {**outer, **_headers(lines[1:])}
    return Call(request_line[0].upper(), path, parse_qsl(query, keep_blank_values=True), headers, body, content_id or "")


def _render(boundary: str, call: Call | Result, result: Result) -> bytes:
    content_id = call.content_id if isinstance(call, Call) else call.headers.get("x-content-id")
    lines = [f"--{boundary}", "Content-Type: application/http"]
    if content_id:
        lines.append(f"Content-ID: <response-{content_id}>")
    lines += ["", f"HTTP/1.1 {result.status} {HTTPStatus(result.status).phrase}"]
    payload = b""
    if result.body is not None:
        payload = msgspec.json.encode(result.body)
        lines.append("Content-Type: application/json; charset=UTF-8")
    lines += [f"{k}: {v}" for k, v in result.headers.items() if k != "x-content-id"]
    lines += [f"Content-Length: {len(payload)}", "", ""]
    return "\r\n".join(lines).encode() + payload + b"\r\n"


async def run(api: CalendarApi, content_type: str, outer: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
    """(status, headers, content): bytes for a multipart answer, a dict for a JSON error."""
    api.counters["batch"] += 1
    try:
        boundary = boundary_of(content_type)
        raw = parts(body, boundary)
    except BatchError as exc:
        return 400, {}, error_body(400, str(exc), "badRequest")
    if not raw:
        return 400, {}, error_body(400, "The batch request contains no calls.", "badRequest")
    if len(raw) > MAX_CALLS:
        return 400, {}, error_body(400, f"Too many requests in a batch: {len(raw)}, the limit is {MAX_CALLS}.", "badRequest")
    api.counters["batch.items"] += len(raw)
    # Only the credentials carry over from the envelope, not its multipart framing.
    inherited = {k: v for k, v in outer.items() if k == "authorization"}
    answer = f"batch_{secrets.token_urlsafe(18).replace('-', 'A').replace('_', 'B')}"
    out = []
    for part in raw:
        call = to_call(part, inherited)
        # Google may run the calls of a batch in any order; the sandbox runs them in order.
        result = call if isinstance(call, Result) else await api.handle(call)
        out.append(_render(answer, call, result))
    out.append(f"--{answer}--\r\n".encode())
    return 200, {"Content-Type": f"multipart/mixed; boundary={answer}"}, b"".join(out)
