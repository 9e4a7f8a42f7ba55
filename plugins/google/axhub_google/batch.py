"""Google's HTTP batch format: ``multipart/mixed`` of ``application/http`` parts.

One POST to ``/batch/calendar/v3`` carries up to 50 calls; the answer is a multipart of
HTTP responses in the same order, matched by ``Content-ID``.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

MAX_CALLS = 50


class Call(msgspec.Struct):
    method: str
    path: str  # absolute, e.g. /calendar/v3/calendars/primary/events
    body: dict[str, Any] | None = None


class Reply(msgspec.Struct):
    status: int
    body: Any = None
    headers: dict[str, str] = {}


def encode(calls: list[Call]) -> tuple[bytes, str]:
    """The request body and its Content-Type."""
    if len(calls) > MAX_CALLS:
        raise ValueError(f"Google accepts at most {MAX_CALLS} calls per batch")
    boundary = f"batch_axhub_{secrets.token_hex(12)}"
    out = []
    for i, call in enumerate(calls):
        lines = [f"--{boundary}", "Content-Type: application/http", f"Content-ID: <item-{i}>", "",
                 f"{call.method} {call.path} HTTP/1.1"]
        if call.body is not None:
            payload = msgspec.json.encode(call.body).decode()
            lines += ["Content-Type: application/json; charset=UTF-8", "", payload]
        else:
            lines += [""]
        out.append("\r\n".join(lines))
    body = "\r\n".join(out) + f"\r\n--{boundary}--\r\n"
    return body.encode(), f"multipart/mixed; boundary={boundary}"


def _boundary(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"')
    raise ValueError("multipart answer without a boundary")


def _split_head(block: str) -> tuple[list[str], str]:
    for sep in ("\r\n\r\n", "\n\n"):
        if sep in block:
            head, body = block.split(sep, 1)
            return head.splitlines(), body
    return block.splitlines(), ""


def decode(content: bytes, content_type: str, count: int) -> list[Reply]:
    """Replies in call order; a call Google left unanswered comes back as a 500."""
    boundary = _boundary(content_type)
    text = content.decode("utf-8", "replace")
    replies: dict[int, Reply] = {}
    for i, raw in enumerate(text.split(f"--{boundary}")[1:]):
        raw = raw.lstrip("\r\n")
        if raw.startswith("--"):
            break
        outer_head, inner = _split_head(raw)
        index = i
        for line in outer_head:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-id":
                tag = value.strip().strip("<>").rsplit("-", 1)[-1]
                if tag.isdigit():
                    index = int(tag)
        inner_head, body = _split_head(inner)
        if not inner_head:
            continue
        status = int(inner_head[0].split()[1])
        headers = {}
        for line in inner_head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body = body.strip()
        try:
            parsed = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            parsed = body
        replies[index] = Reply(status=status, body=parsed, headers=headers)
    return [replies.get(i, Reply(status=500, body={"error": {"message": "no answer in batch"}})) for i in range(count)]
