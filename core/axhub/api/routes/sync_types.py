"""The typed answers of the synchronisation routes: a run as the status and history
show it, with its statistics, errors, conflicts and dry-run plan, so the OpenAPI says
every field a client reads (the run record itself stores them as JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ...wire import Meta, Wire

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class Counts(Wire, kw_only=True):
    created: int = 0
    updated: int = 0
    deleted: int = 0


class PendingAttendance(Wire, kw_only=True):
    event_id: str
    reason: str


class AttendanceStatistics(Wire, kw_only=True):
    """What a video provider's run brought back: meetings checked, attendance recorded."""
    events_checked: int = 0
    recorded: int = 0
    unchanged: int = 0
    pending: list[PendingAttendance] = []
    details: list[dict[str, Any]] = []


class RunStatistics(Wire, kw_only=True):
    """The spec's five counters, then the hub's own; zeros for a run that wrote nothing."""
    events_processed: int = 0
    events_created: int = 0
    events_updated: int = 0
    events_deleted: int = 0
    errors: int = 0
    conflicts: int = 0
    remote_changes_read: int = 0
    list_requests: int = 0
    inbound: Counts = msgspec.field(default_factory=Counts)
    outbound: Counts = msgspec.field(default_factory=Counts)
    full_sync: bool | Unset = UNSET
    timings_ms: dict[str, float] = {}
    attendance: AttendanceStatistics | Unset = UNSET


class RunError(Wire, kw_only=True):
    """One event the run could not write (``eventId`` null: the run itself failed)."""
    event_id: str | None = None
    action: str | Unset = UNSET
    error: str
    code: str


class Conflict(Wire, kw_only=True):
    event_id: str
    external_id: str | None
    title: str | None
    reason: str
    winner: str
    local_updated_at: str | None
    remote_updated_at: str | None


class PlannedChange(Wire, kw_only=True):
    action: str
    event_id: str | None
    external_id: str | None
    title: str | None


class PlannedSide(Wire, kw_only=True):
    create: list[PlannedChange] = []
    update: list[PlannedChange] = []
    delete: list[PlannedChange] = []


class Plan(Wire, kw_only=True, rename={"attendance_x": "attendanceX"}):
    """A dry run's answer: what each side would get."""
    attendance_x: PlannedSide
    external: PlannedSide
    conflicts: list[Conflict] = []


class Trigger(Wire, kw_only=True, omit_defaults=True):
    """Who started a manual run, or why the hub started one."""
    name: str | None = None
    user_id: str | None = None
    reason: str | None = None


class RunOut(Wire, kw_only=True):
    """A run: ``syncId`` at ``…/status``, ``id`` in history (the spec's two names)."""
    sync_id: str | Unset = UNSET
    id: str | Unset = UNSET
    started_at: datetime
    completed_at: datetime | None
    status: str
    type: str
    direction: str
    scope: str | None
    dry_run: bool
    statistics: RunStatistics
    errors: list[RunError]
    conflicts: list[Conflict]
    duration: str | None
    triggered_by: str | Trigger | None
    message: str | Unset = UNSET
    plan: Plan | Unset = UNSET


class SyncStartedOut(Wire, kw_only=True):
    sync_id: str
    status: str
    started_at: datetime
    estimated_duration: str
    status_url: str


class SyncStarted(Wire, kw_only=True):
    success: bool = True
    data: SyncStartedOut


class SyncStatus(Wire, kw_only=True):
    success: bool = True
    data: RunOut


class SyncHistory(Wire, kw_only=True):
    success: bool = True
    data: list[RunOut]
    meta: Meta


def typed(view: dict[str, Any], type_: type) -> Any:
    """A view built as a dict (from the run's JSON columns), as its wire type."""
    return msgspec.convert(view, type_)
