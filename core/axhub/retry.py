"""Retrying provider calls: exponential backoff with jitter, ``Retry-After`` honoured.

Throttling (``RateLimited``) and transient failures (5xx, timeouts, unreachable) are
retried; everything else is the caller's to handle. ``AXHUB_RETRY_MAX_WAIT`` caps any
single wait (a provider asking for an hour is better answered by failing the run and
letting the next one try).
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Awaitable, Callable, TypeVar

from .errors import ProviderError, QuotaExceeded, RateLimited

T = TypeVar("T")


def max_wait() -> float:
    return float(os.environ.get("AXHUB_RETRY_MAX_WAIT") or 60.0)


def transient(exc: BaseException) -> bool:
    if isinstance(exc, QuotaExceeded):
        return False  # a spent daily quota does not come back in seconds
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, ProviderError) and (
        (exc.status or 0) >= 500 or exc.reason in ("timeout", "unreachable")
    )


def backoff(attempt: int, retry_after: float | None, *, base: float = 0.5) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    if retry_after is not None:
        return min(retry_after, max_wait())
    # "Full jitter" keeps many clients from retrying in lock-step.
    return min(max_wait(), base * 2 ** attempt) * (0.5 + random.random() / 2)


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = 6, base: float = 0.5,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> T:
    for attempt in range(attempts):
        try:
            return await call()
        except ProviderError as exc:
            if attempt == attempts - 1 or not transient(exc):
                raise
            await sleep(backoff(attempt, exc.retry_after, base=base))
    raise AssertionError("unreachable")
