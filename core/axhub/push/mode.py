"""Whether an integration is kept up to date by push or by polling, and why: what the
integration view and ``POST /test`` show, what the scheduler's syncInterval fire
asks before it runs (with push healthy only the slow safety poll runs)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import select

from ..db import Integration, PushSubscription, SyncRun
from ..runtime.services import Services
from .lifecycle import pushes
from .store import LIVE, now


@dataclasses.dataclass(frozen=True)
class Mode:
    mode: str  # push | polling
    state: str  # active | pending | failing | expired | none | unavailable
    until: datetime | None = None
    reason: str | None = None
    last_notification_at: datetime | None = None
    last_error: str | None = None

    @property
    def healthy(self) -> bool:
        return self.mode == "push"


def _mode_of(svc: Services, subs: list[PushSubscription], at: datetime) -> Mode:
    live = [s for s in subs if s.state in LIVE]
    heard = max((s.last_notified_at for s in live if s.last_notified_at), default=None)
    active = [s for s in live if s.state == "active" and (s.expires_at is None or s.expires_at > at)]
    if active:
        ends = [s.expires_at for s in active if s.expires_at is not None]
        return Mode("push", "active", min(ends) if ends else None, None, heard)
    failing = next((s for s in live if s.state == "failing"), None)
    if failing is not None:
        return Mode("polling", "failing", None, f"the subscription is failing ({failing.last_error}); "
                    "polling at syncInterval until it is repaired", heard, failing.last_error)
    if any(s.state == "active" for s in live):
        return Mode("polling", "expired", None, "the subscription expired before it was renewed; "
                    "polling at syncInterval until it is renewed", heard)
    if live:
        return Mode("polling", "pending", None, "the provider has not confirmed the subscription yet; "
                    "polling at syncInterval meanwhile", heard)
    return Mode("polling", "none", None, "no subscription is open yet; polling at syncInterval", heard)


async def modes(svc: Services, rows: Iterable[Integration], at: datetime | None = None) -> dict[str, Mode]:
    """The mode of each integration that syncs (others have none), read at once."""
    at = at or now()
    syncing = [r for r in rows if r.status != "disconnected" and svc.hub.implements(r.provider, "sync")]
    if not syncing:
        return {}
    address, why = svc.config.push_address()
    out: dict[str, Mode] = {}
    asked = []
    for row in syncing:
        if not pushes(svc, row.provider):
            out[row.id] = Mode("polling", "unavailable", None, f"{row.provider} offers no change notifications")
        elif address is None:
            out[row.id] = Mode("polling", "unavailable", None, why)
        else:
            asked.append(row)
    if asked:
        async with svc.db.session() as s:
            subs = (await s.scalars(select(PushSubscription).where(
                PushSubscription.integration_id.in_([r.id for r in asked]),
                PushSubscription.org_id.in_({r.org_id for r in asked})))).all()
        by: dict[str, list[PushSubscription]] = {}
        for sub in subs:
            by.setdefault(sub.integration_id, []).append(sub)
        for row in asked:
            out[row.id] = _mode_of(svc, [s for s in by.get(row.id, []) if s.org_id == row.org_id], at)
    return out


async def defers(svc: Services, row: Integration, fire_at: datetime) -> bool:
    """Whether a syncInterval fire is left to push: push is healthy and the integration
    synced within the safety poll (``AXHUB_PUSH_SAFETY_POLL_HOURS``)."""
    mode = (await modes(svc, [row], fire_at)).get(row.id)
    if mode is None or not mode.healthy:
        return False
    if await _attendance_pending(svc, row):
        return False
    return row.last_sync is not None and fire_at - row.last_sync < timedelta(seconds=svc.config.push_safety_poll)


async def _attendance_pending(svc: Services, row: Integration) -> bool:
    """Whether the integration's last run left attendance pending (a meeting provider's
    report not ready yet): no notification will say when it is, so the schedule keeps
    asking, at syncInterval, as without push (the adapter spaces its own asks)."""
    async with svc.db.session() as s:
        stats = await s.scalar(select(SyncRun.statistics).where(
            SyncRun.integration_id == row.id, SyncRun.org_id == row.org_id, SyncRun.completed_at.is_not(None))
            .order_by(SyncRun.started_at.desc()).limit(1))
    attendance = (stats or {}).get("attendance") if isinstance(stats, dict) else None
    return bool(isinstance(attendance, dict) and attendance.get("pending"))


def safety_due(svc: Services, row: Integration) -> datetime | None:
    """When the safety poll next falls due (the first fire after it may run)."""
    if row.last_sync is None:
        return None
    return row.last_sync + timedelta(seconds=svc.config.push_safety_poll)
