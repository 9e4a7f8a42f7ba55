"""What a sync run is asked to do: the ``POST /sync`` body, checked and turned into the
engine's options (``SyncOptions``), and the words a run's durations are shown in."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

import msgspec

from ..errors import ApiError, validation_error

DIRECTIONS = ("bidirectional", "attendance_to_external", "external_to_attendance")
SCOPES = ("all", "future", "past")
FINISHED = ("completed", "partial", "failed")
INBOUND = {"bidirectional", "external_to_attendance"}
OUTBOUND = {"bidirectional", "attendance_to_external"}


@dataclasses.dataclass(frozen=True)
class SyncOptions:
    direction: str = "bidirectional"
    scope: str = "all"  # all | future | past
    force_update: bool = False
    dry_run: bool = False
    start: datetime | None = None
    end: datetime | None = None
    # Meetings the provider said ended (their provider ids, from push): followed up for
    # attendance even when their event's scheduled end has not come (ended early).
    ended: frozenset[str] = frozenset()

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        start, end = self.start, self.end
        if self.scope == "future":
            start = max(start, now) if start else now
        elif self.scope == "past":
            end = min(end, now) if end else now
        return start, end

    @property
    def keeps_cursor(self) -> bool:
        """A run limited to a window must not move the cursor past changes it skipped."""
        return self.start is None and self.end is None and self.scope == "all"


class DateRange(msgspec.Struct, forbid_unknown_fields=True):
    start: datetime
    end: datetime


class SyncOptionsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    force_update: bool = False
    dry_run: bool = False
    date_range: DateRange | None = None


class SyncIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    direction: Literal[DIRECTIONS] | None = None  # type: ignore[valid-type]  # None: the integration's syncDirection
    scope: Literal[SCOPES] = "all"  # type: ignore[valid-type]
    options: SyncOptionsIn = msgspec.field(default_factory=SyncOptionsIn)


def directions_of(settings_type: type) -> tuple[str, ...]:
    """The directions a provider syncs in: what its settings' ``syncDirection`` takes
    (Zoom's meetings only follow events), or all three."""
    for field in msgspec.structs.fields(settings_type):
        if field.name == "sync_direction":
            kind = msgspec.inspect.type_info(field.type)
            if isinstance(kind, msgspec.inspect.LiteralType):
                return tuple(v for v in DIRECTIONS if v in kind.values)
    return DIRECTIONS


def options_from(body: SyncIn, settings: dict[str, Any], directions: tuple[str, ...] = DIRECTIONS) -> SyncOptions:
    direction = body.direction or settings.get("syncDirection") or directions[0]
    if direction not in directions:
        raise ApiError("VALIDATION_ERROR", f"direction: must be one of {', '.join(directions)} for this provider",
                       field="direction", details={"allowed": list(directions)})
    if body.scope not in SCOPES:
        raise validation_error("scope", f"must be one of {', '.join(SCOPES)}")
    start = end = None
    if body.options.date_range is not None:
        start, end = body.options.date_range.start, body.options.date_range.end
        for name, value in (("start", start), ("end", end)):
            if value.tzinfo is None:
                raise validation_error(f"options.dateRange.{name}", "must carry a UTC offset")
        if end <= start:
            raise validation_error("options.dateRange.end", "must be after start")
    return SyncOptions(direction=direction, scope=body.scope, force_update=body.options.force_update,
                       dry_run=body.options.dry_run, start=start, end=end)


def human(seconds: float | None, compact: bool = False) -> str | None:
    if seconds is None:
        return None
    if compact or seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


def estimate(last_ms: int | None) -> str:
    """From the integration's last run; a first run of 10,000 events takes about a second."""
    if last_ms is None or last_ms < 30_000:
        return "under a minute"
    low = max(1, last_ms // 60_000)
    return f"{low}-{low * 2 + 1} minutes"
