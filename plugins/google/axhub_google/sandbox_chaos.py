"""Trouble tests can switch on for the Calendar API: exact faults, random chaos, a rate limit.

All three act per *call*, so a call inside a batch meets them exactly like a direct one.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

from axhub.sandbox import Faults

API_PREFIX = "/calendar/v3/"


def call_faults() -> Faults:
    """``/_control/faults`` rules on Calendar API paths are taken by the call pipeline
    (which also runs for batched calls), others (``/token``, ``/batch``) by the hook."""
    return Faults(per_call=lambda path: path.startswith(API_PREFIX))


class Chaos:
    """Random faults at ``rate`` (a status drawn from ``statuses``) and timeouts at
    ``timeoutRate``: the call waits ``timeoutSeconds`` and then either goes through (a
    client that gave up never learns its write happened) or is lost (503, not applied).
    Seeded, so a run is reproducible when calls arrive in the same order."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.rate = 0.0
        self.statuses: tuple[int, ...] = (429, 500, 503, 403)
        self.timeout_rate = 0.0
        self.timeout_seconds = 2.0
        self.seed: int | None = None
        self.rng = random.Random()

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        rate = float(data.get("rate", 0.1))
        timeout_rate = float(data.get("timeoutRate", 0.0))
        statuses = tuple(int(s) for s in data.get("statuses", (429, 500, 503, 403)))
        if not (0 <= rate <= 1 and 0 <= timeout_rate <= 1 and rate + timeout_rate <= 1):
            raise ValueError("rate and timeoutRate are probabilities whose sum is at most 1")
        if not statuses or any(not 400 <= s <= 599 for s in statuses):
            raise ValueError("statuses must be HTTP error statuses")
        self.rate, self.timeout_rate, self.statuses = rate, timeout_rate, statuses
        self.timeout_seconds = float(data.get("timeoutSeconds", 2))
        self.seed = data.get("seed")
        self.rng = random.Random(self.seed)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"rate": self.rate, "statuses": list(self.statuses), "timeoutRate": self.timeout_rate,
                "timeoutSeconds": self.timeout_seconds, "seed": self.seed}

    def draw(self) -> tuple[str, int] | None:
        """None, ``("status", code)``, ``("late", 0)`` or ``("lost", 0)``."""
        if not self.rate and not self.timeout_rate:
            return None
        roll = self.rng.random()
        if roll < self.timeout_rate:
            return ("late" if self.rng.random() < 0.5 else "lost", 0)
        if roll < self.timeout_rate + self.rate:
            return "status", self.rng.choice(self.statuses)
        return None


class RateLimiter:
    """At most ``per_second`` calls in any sliding second; beyond, Google's 403
    ``rateLimitExceeded`` (or 429 when asked)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.per_second: int | None = None
        self.status = 403
        self.hits: deque[float] = deque()

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        per_second = data.get("perSecond")
        self.per_second = int(per_second) if per_second else None
        self.status = int(data.get("status", 403))
        if self.status not in (403, 429):
            raise ValueError("status is 403 or 429")
        self.hits.clear()
        return {"perSecond": self.per_second, "status": self.status}

    def allow(self) -> bool:
        if not self.per_second:
            return True
        now = time.monotonic()
        while self.hits and self.hits[0] <= now - 1:
            self.hits.popleft()
        if len(self.hits) >= self.per_second:
            return False
        self.hits.append(now)
        return True
