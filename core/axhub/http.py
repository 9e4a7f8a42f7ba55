"""The one HTTP client stack every plugin uses to call its provider.

Plugins never build their own ``httpx`` clients: ``ctx.http`` and ``ctx.oauth_client()``
come from here, with the hub's timeouts and User-Agent, so that every call a plugin
makes can be timed, sized and limited in one place.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

import httpx

from . import __version__
from .types import ApiLimits

USER_AGENT = f"axhub/{__version__} (+https://attendance-x.com)"


# httpx keeps only 20 idle connections by default: with more calls in flight (a burst of
# webhook deliveries, 50 at once by default), the rest would reconnect for every request.
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100)


def client_options(timeout: float) -> dict:
    return {
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        "headers": {"User-Agent": USER_AGENT},
        # A provider that answers with a redirect is not followed blindly: it is a fault.
        "follow_redirects": False,
        # Only used when the client builds its own transport: httpx ignores ``limits``
        # when it is given one (``new_transport`` carries them then).
        "limits": LIMITS,
    }


def new_transport() -> httpx.AsyncHTTPTransport:
    """The connection pool under a client that is given a transport (a wrapper such as
    axhub.metering's), with the pool size the hub's clients are meant to have."""
    return httpx.AsyncHTTPTransport(limits=LIMITS)


def new_client(timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(**client_options(timeout), transport=transport)


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (possibly
    fractional, as Graph sends), an HTTP date, or an ISO timestamp (Zoom's daily limits)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    now = now or datetime.now(timezone.utc)
    for parse in (parsedate_to_datetime, lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))):
        try:
            when = parse(value)
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - now).total_seconds())
    return None


def api_limits(headers: Mapping[str, str], now: datetime | None = None) -> ApiLimits | None:
    """Rate-limit state from the usual headers: ``X-RateLimit-*`` (Zoom, GitHub style)
    and the IETF ``RateLimit-*`` fields. None when the provider sends none."""
    now = now or datetime.now(timezone.utc)
    limit = _int(headers.get("x-ratelimit-limit") or headers.get("ratelimit-limit"))
    remaining = _int(headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining"))
    if limit is None and remaining is None:
        return None
    reset_at = None
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    if reset is not None:
        seconds = _int(reset)
        if seconds is not None:
            # Epoch seconds (X-RateLimit-Reset) or delta seconds (RateLimit-Reset).
            reset_at = (
                datetime.fromtimestamp(seconds, timezone.utc)
                if seconds > 10**9
                else datetime.fromtimestamp(now.timestamp() + seconds, timezone.utc)
            )
    limit_type = headers.get("x-ratelimit-type")
    daily = limit if limit_type and limit_type.lower().startswith("daily") else None
    return ApiLimits(
        remaining=remaining,
        reset_at=reset_at,
        limit=limit,
        daily_limit=daily,
        category=headers.get("x-ratelimit-category"),
    )
