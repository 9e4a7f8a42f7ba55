"""When an integration's automatic syncs fire: on a fixed grid of its interval, with a
phase drawn from its id. The grid is the same in every process and after every restart
(so schedules written by one process, reconciled by another, or computed for the API's
``nextSync`` agree), and the phases spread many integrations evenly over the interval
instead of firing them together (gentler on the providers' quotas and on the hub)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def phase(key: str, interval: int) -> int:
    """Seconds after each multiple of ``interval`` (since the epoch) at which ``key`` fires."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % interval


def next_fire(key: str, interval: int, after: datetime) -> datetime:
    """The first point of ``key``'s grid strictly after ``after``."""
    offset = phase(key, interval)
    seconds = (after - EPOCH).total_seconds()
    k = int((seconds - offset) // interval) + 1
    return datetime.fromtimestamp(offset + k * interval, tz=timezone.utc)


def last_fire(key: str, interval: int, at: datetime) -> datetime:
    """The latest point of ``key``'s grid at or before ``at`` (a run's due time)."""
    offset = phase(key, interval)
    seconds = (at - EPOCH).total_seconds()
    k = int((seconds - offset) // interval)
    return datetime.fromtimestamp(offset + k * interval, tz=timezone.utc)


def on_grid(key: str, interval: int, moment: datetime) -> bool:
    return round((moment - EPOCH).total_seconds() - phase(key, interval)) % interval == 0
