"""The figures an integration view shows, read across the domains that make them: a
calendar's sync runs and links, a provider's outbound deliveries, a chat's messages.
One place owns these reads, so the domains that write the rows do not call each other
for them; each function answers for many integrations in a few queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import bindparam, case, func, select

from ..db import DeliveryAttempt, DeliveryMessage, SyncLink, SyncRun
from ..runtime.services import Services
from ..sync.options import FINISHED, human

_REAL = SyncRun.dry_run.is_(False)

# A calendar integration's figures (sync_statistics), built once: the view is asked for
# often, and building these costs more CPU than running them.
_IDS = bindparam("ids", expanding=True)
_LINK_COUNTS = (select(SyncLink.integration_id, func.count()).where(SyncLink.integration_id.in_(_IDS))
                .group_by(SyncLink.integration_id))
_RUN_FIGURES = (select(SyncRun.integration_id,
                       func.sum(case((SyncRun.status == "completed", 1), else_=0)),
                       func.sum(case((SyncRun.status.in_(FINISHED), 1), else_=0)),
                       func.sum(SyncRun.error_count))
                .where(SyncRun.integration_id.in_(_IDS), _REAL).group_by(SyncRun.integration_id))
# Each integration's last finished run: its completion time, then its duration.
_LATEST = (select(SyncRun.integration_id, func.max(SyncRun.completed_at).label("at"))
           .where(SyncRun.integration_id.in_(_IDS), _REAL).group_by(SyncRun.integration_id).subquery())
_LAST_DURATIONS = (select(SyncRun.integration_id, SyncRun.duration_ms)
                   .join(_LATEST, (SyncRun.integration_id == _LATEST.c.integration_id)
                         & (SyncRun.completed_at == _LATEST.c.at))
                   .where(_REAL))


async def sync_statistics(svc: Services, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The integration view's ``statistics`` for calendar integrations, in three
    queries whatever their number."""
    if not ids:
        return {}
    params = {"ids": list(ids)}
    async with svc.db.connect() as s:  # reads only: no transaction
        counts = dict((await s.execute(_LINK_COUNTS, params)).all())
        agg = (await s.execute(_RUN_FIGURES, params)).all()
        durations = dict((await s.execute(_LAST_DURATIONS, params)).all())
    out = {}
    for integration_id in ids:
        row = next((r for r in agg if r[0] == integration_id), None)
        finished = int(row[2] or 0) if row else 0
        ms = durations.get(integration_id)
        out[integration_id] = {
            "eventsSynced": int(counts.get(integration_id, 0)),
            "lastSyncDuration": human(ms / 1000, compact=True) if ms is not None else None,
            "errorCount": int(row[3] or 0) if row else 0,
            "successRate": round(int(row[1] or 0) / finished, 4) if finished else None,
        }
    return out


def empty_delivery_statistics() -> dict[str, Any]:
    return {"messages": 0, "delivered": 0, "pending": 0, "failed": 0, "attempts": 0, "failedAttempts": 0,
            "successRate": None, "averageDurationMs": None}


# Built once, as the figures above.
_MESSAGE_COUNTS = (select(DeliveryMessage.integration_id, DeliveryMessage.status, func.count())
                   .where(DeliveryMessage.integration_id.in_(_IDS))
                   .group_by(DeliveryMessage.integration_id, DeliveryMessage.status))
_ATTEMPT_FIGURES = (select(DeliveryAttempt.integration_id, func.count(),
                           func.sum(case((DeliveryAttempt.outcome != "delivered", 1), else_=0)),
                           func.avg(DeliveryAttempt.duration_ms))
                    .where(DeliveryAttempt.integration_id.in_(_IDS)).group_by(DeliveryAttempt.integration_id))


async def delivery_statistics(svc: Services, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Delivery counts per integration, for the API and analytics."""
    if not ids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    params = {"ids": list(ids)}
    async with svc.db.connect() as s:  # reads only: no transaction
        for integration_id, status, count in (await s.execute(_MESSAGE_COUNTS, params)).all():
            stats = out.setdefault(integration_id, empty_delivery_statistics())
            stats[status] = count
            stats["messages"] += count
        for integration_id, total, failed, avg in (await s.execute(_ATTEMPT_FIGURES, params)).all():
            stats = out.setdefault(integration_id, empty_delivery_statistics())
            stats.update(attempts=total, failedAttempts=int(failed or 0),
                         averageDurationMs=round(float(avg), 1) if avg is not None else None)
    for stats in out.values():
        done = stats["delivered"] + stats["failed"]
        stats["successRate"] = round(stats["delivered"] / done, 4) if done else None
    return out


async def messaging_statistics(svc: Services, ids: list[str], *, days: int = 30) -> dict[str, dict[str, Any]]:
    """The spec's figures for a messaging integration (Slack, Teams): ``messagesSent``
    (delivered, ever), ``channelsConnected`` (channels delivered to) and ``activeUsers``
    (people mentioned in the last ``days``: a plugin lists them under ``mentions`` in
    the payload it stores)."""
    if not ids:
        return {}
    out = {i: {"messagesSent": 0, "channelsConnected": 0, "activeUsers": 0} for i in ids}
    delivered = (DeliveryMessage.integration_id.in_(ids), DeliveryMessage.status == "delivered")
    since = svc.clock() - timedelta(days=days)
    async with svc.db.connect() as s:  # reads only: no transaction
        for integration_id, sent, channels in (await s.execute(
            select(DeliveryMessage.integration_id, func.count(), func.count(DeliveryMessage.target.distinct()))
            .where(*delivered).group_by(DeliveryMessage.integration_id)
        )).all():
            out[integration_id].update(messagesSent=sent, channelsConnected=channels)
        people: dict[str, set[str]] = {}
        for integration_id, payload in (await s.execute(
            select(DeliveryMessage.integration_id, DeliveryMessage.payload)
            .where(*delivered, DeliveryMessage.delivered_at >= since)
            .order_by(DeliveryMessage.delivered_at.desc()).limit(5000)
        )).all():
            try:
                mentions = msgspec.json.decode(payload).get("mentions") or []
            except (msgspec.DecodeError, AttributeError):
                continue
            people.setdefault(integration_id, set()).update(m for m in mentions if isinstance(m, str))
    for integration_id, users in people.items():
        out[integration_id]["activeUsers"] = len(users)
    return out
