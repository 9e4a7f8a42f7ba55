"""Lines for operators: one ``key=value`` line per request (the access log) and per
failure they may have to act on (a failed sync, delivery or token refresh), each with
the integration and the spec's error code, so that ``grep code=INVALID_CREDENTIALS``
or a log shipper finds them. Free text in a line is cut short and has URL queries and
bearer tokens masked: a provider's error may quote a URL that carries a secret."""

from __future__ import annotations

import logging
import re

ACCESS = logging.getLogger("axhub.access")
FAILURES = logging.getLogger("axhub.failures")

_QUERY = re.compile(r"(https?://[^\s?#\"']+)[?#][^\s\"']*")
_BEARER = re.compile(r"(?i)\b(bearer|token|secret|password|code)([=:\s]+)[^\s&\"',;]+")
_PLAIN = re.compile(r"^[A-Za-z0-9_.:/@+\-]+$")
TEXT_MAX = 200


def masked(text: str) -> str:
    text = _QUERY.sub(r"\1?…", text)
    text = _BEARER.sub(r"\1\2***", text)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def _value(value: object) -> str:
    text = "-" if value is None else str(value)
    if _PLAIN.match(text):
        return text
    return '"' + masked(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def line(event: str, **fields: object) -> str:
    """``event=… key=value …`` in the given order; values with spaces or quotes quoted."""
    return " ".join([f"event={event}", *(f"{k}={_value(v)}" for k, v in fields.items())])


def failure(event: str, *, integration: str, code: str | None, **fields: object) -> None:
    """One WARNING line on ``axhub.failures``: ``event=sync_failed integration=… code=…``."""
    FAILURES.warning(line(event, integration=integration, code=code or "-", **fields))
