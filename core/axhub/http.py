"""The one HTTP client stack every plugin uses to call its provider.

Plugins never build their own ``httpx`` clients: ``ctx.http`` and ``ctx.oauth_client()``
come from here, with the hub's timeouts and User-Agent, so that every call a plugin
makes can be timed, sized and limited in one place.
"""

from __future__ import annotations

import functools
import ssl
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

import httpx

from .version import __version__
from .types import ApiLimits

USER_AGENT = f"axhub/{__version__} (+https://attendance-x.com)"


# httpx keeps only 20 idle connections by default: with more calls in flight (a burst of
# webhook deliveries, 50 at once by default), the rest would reconnect for every request.
LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100)


@functools.cache
def tls() -> ssl.SSLContext:
    """The one TLS context of every connection the hub opens. httpx builds a context
    for each transport it is not handed one, and building one loads the CA bundle:
    about 25 ms of CPU, four times over for each OAuth client (one per pool), a tenth
    of a second of every OAuth callback and token refresh."""
    return httpx.create_ssl_context()


def client_options(timeout: float) -> dict:
    return {
        "verify": tls(),
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        "headers": {"User-Agent": USER_AGENT},
        # A provider that answers with a redirect is not followed blindly: it is a fault.
        "follow_redirects": False,
        # Only used when the client builds its own transport: httpx ignores ``limits``
        # when it is given one (``new_transport`` carries them then).
        "limits": LIMITS,
    }


POOLS = 4


class Pools(httpx.AsyncBaseTransport):
    """A few connection pools behind one transport, together of the size ``LIMITS`` says.

    httpcore (1.0) re-examines every connection of a pool each time it places or
    finishes a request (a poll of each idle socket, and a keep-alive count that is
    quadratic in the pool's size): with fifty webhook deliveries in flight on one pool
    that bookkeeping was a third of the delivery worker's time (profiled). Four pools
    of a quarter the size do a sixteenth of it. Each request goes to the pool with the
    fewest requests in flight (the first on a tie), so a burst spreads evenly and the
    next burst of the same size finds its idle connections where it left them."""

    def __init__(self, pools: int = POOLS, limits: httpx.Limits = LIMITS) -> None:
        each = httpx.Limits(max_connections=max(1, (limits.max_connections or 100) // pools),
                            max_keepalive_connections=max(1, (limits.max_keepalive_connections or 20) // pools),
                            keepalive_expiry=limits.keepalive_expiry)
        self.pools = [httpx.AsyncHTTPTransport(limits=each, verify=tls()) for _ in range(pools)]
        self.in_flight = [0] * pools

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = min(range(len(self.pools)), key=self.in_flight.__getitem__)
        self.in_flight[i] += 1
        try:
            response = await self.pools[i].handle_async_request(request)
        except BaseException:
            self.in_flight[i] -= 1
            raise
        response.stream = _Released(response.stream, self.in_flight, i)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class _Released(httpx.AsyncByteStream):
    """A response body that gives its pool's place back when it is closed (the
    connection is busy until then)."""

    def __init__(self, inner: httpx.AsyncByteStream, counts: list[int], index: int) -> None:
        self.inner, self.counts, self.index = inner, counts, index

    async def __aiter__(self):
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        if self.counts is not None:
            self.counts[self.index] -= 1
            self.counts = None  # type: ignore[assignment]
        await self.inner.aclose()


def new_transport() -> httpx.AsyncBaseTransport:
    """The connection pools under a client that is given a transport (a wrapper such as
    axhub.metering's), with the pool size the hub's clients are meant to have."""
    return Pools()


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
