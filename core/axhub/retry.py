"""Retrying provider calls: exponential backoff with jitter, ``Retry-After`` honoured.

Throttling (``RateLimited``) and transient failures (5xx, timeouts, unreachable) are
retried; everything else is the caller's to handle. ``AXHUB_RETRY_MAX_WAIT`` caps any
single wait (a provider asking for an hour is better answered by failing the run and
letting the next one try). A spent quota (``QuotaExceeded``) is never retried, and a
:class:`QuotaBreaker` stops a run from asking again for the rest of it.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

from .errors import ProviderError, QuotaExceeded, RateLimited

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")


def max_wait() -> float:
    """The longest single wait before a retry (``AXHUB_RETRY_MAX_WAIT``, 60 s by default): a
    provider asking for more is failed, not waited for."""
    return float(os.environ.get("AXHUB_RETRY_MAX_WAIT") or 60.0)


def transient(exc: BaseException) -> bool:
    """Whether asking again can help: throttling, timeouts, no answer, a 5xx — not a spent
    quota, a refusal or a dead grant."""
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
    """Await ``call()`` — a zero-argument coroutine factory (``lambda: ctx.call(...)``), since
    each attempt needs a new coroutine — retrying :func:`transient` failures up to
    ``attempts`` times with jittered exponential backoff from ``base`` seconds, honouring a
    ``Retry-After`` (capped by :func:`max_wait`); the last failure is raised."""
    for attempt in range(attempts):
        try:
            return await call()
        except ProviderError as exc:
            if attempt == attempts - 1 or not transient(exc):
                raise
            await sleep(backoff(attempt, exc.retry_after, base=base))
    raise AssertionError("unreachable")


class QuotaBreaker:
    """One per run (per adapter): after the provider said a daily or monthly quota is
    spent, every later call of the run fails at once with the same error, unsent. Each
    of those calls would only be refused again — and a refused call may itself count
    against the quota — so the run ends ``partial`` with the reason on every op it could
    not do, and the next run (after the reset) does them.

    ``await breaker.call(fn)`` runs ``fn()`` unless the breaker has tripped; ``spent``
    is the first :class:`QuotaExceeded` seen (None while calls go through)."""

    def __init__(self) -> None:
        self.spent: QuotaExceeded | None = None
        self._at: datetime | None = None

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` (a zero-argument coroutine factory) unless a quota was already
        spent in this run: then fail at once, unsent, with :meth:`refusal`."""
        if self.spent is not None:
            raise self.refusal()
        try:
            return await call()
        except QuotaExceeded as exc:
            if self.spent is None:
                self.spent, self._at = exc, datetime.now(timezone.utc)
            raise

    def refusal(self) -> QuotaExceeded:
        """A fresh error for a call not sent (the first one's traceback stays its own)."""
        first = self.spent
        assert first is not None and self._at is not None
        resets, left = "", None
        if first.retry_after is not None:
            at = self._at + timedelta(seconds=first.retry_after)
            resets = f"; it resets at {at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            left = max(0.0, (at - datetime.now(timezone.utc)).total_seconds())
        return QuotaExceeded(f"{first.message} (not sent: the quota was spent earlier in this run{resets})",
                             reason=first.reason, status=first.status, retry_after=left)


class Again:
    """What a call inside a batch answers when it should go again in the next round trip:
    throttled or failed transiently, or changed by the caller (an update of a vanished
    event becoming a create). ``wait`` is the provider's ``Retry-After`` for it."""

    __slots__ = ("wait",)

    def __init__(self, wait: float | None = None) -> None:
        self.wait = wait


async def settle_calls(keys: list[K], round_trip: Callable[[list[K]], Awaitable[dict[K, R | Again]]], *,
                       attempts: int = 6, base: float = 0.5,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> tuple[dict[K, R], list[K]]:
    """Send the calls named by ``keys`` in round trips (a provider's batch) until each has
    an outcome: the calls answered :class:`Again` go again after a backoff that honours
    the largest ``Retry-After`` among them. Returns the outcomes and the calls still
    unsettled after ``attempts`` round trips."""
    done: dict[K, R] = {}
    pending = list(keys)
    for attempt in range(attempts):
        if not pending:
            break
        outcomes = await round_trip(pending)
        retry: list[K] = []
        wait = 0.0
        for key in pending:
            outcome = outcomes[key]
            if isinstance(outcome, Again):
                retry.append(key)
                wait = max(wait, outcome.wait or 0.0)
            else:
                done[key] = outcome
        pending = retry
        if pending and attempt < attempts - 1:
            await sleep(backoff(attempt, wait or None, base=base))
    return done, pending
