"""The figures an integration view shows, read across the domains that make them: a
calendar's sync runs and links, a provider's outbound deliveries, a chat's messages.
One place owns these reads, so the domains that write the rows do not call each other
for them.

They are columns of the integration's own row: each a subquery correlated with it, each
an index lookup (``integration_id`` leads an index on every table read here), so the
list and its figures come in one statement, one round trip, whatever the number of
integrations. Scoped by the integration: the rows it reads are those of integrations the
caller's query already scoped to its organisation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import ColumnElement, and_, bindparam, case, func, select

from ..db import DeliveryAttempt, DeliveryMention, DeliveryMessage, Integration, SyncLink, SyncRun
from ..runtime.services import Services
from ..sync.options import FINISHED, human

MESSAGING_DAYS = 30  # activeUsers: people mentioned in messages delivered this many days back
SINCE = bindparam("figures_since")  # the start of that window, bound when the statement runs


def _count(model: Any, *where: ColumnElement[bool], what: Any = None) -> Any:
    return select(func.count(what) if what is not None else func.count()).select_from(model) \
        .where(model.integration_id == Integration.id, *where).scalar_subquery()


_REAL = SyncRun.dry_run.is_(False)
_DELIVERED = DeliveryMessage.status == "delivered"

# name → correlated subquery; read as ``fig_<name>`` beside the integration's columns.
_FIGURES: dict[str, Any] = {
    "links": _count(SyncLink),
    "completed": _count(SyncRun, _REAL, SyncRun.status == "completed"),
    "finished": _count(SyncRun, _REAL, SyncRun.status.in_(FINISHED)),
    "run_errors": select(func.coalesce(func.sum(SyncRun.error_count), 0))
    .where(SyncRun.integration_id == Integration.id, _REAL).scalar_subquery(),
    # The last finished run's duration (ix_sync_runs_integration_completed: one index step).
    "last_ms": select(SyncRun.duration_ms)
    .where(SyncRun.integration_id == Integration.id, _REAL, SyncRun.completed_at.is_not(None))
    .order_by(SyncRun.completed_at.desc()).limit(1).scalar_subquery(),
    "messages": _count(DeliveryMessage),
    "delivered": _count(DeliveryMessage, _DELIVERED),
    "pending": _count(DeliveryMessage, DeliveryMessage.status == "pending"),
    "failed": _count(DeliveryMessage, DeliveryMessage.status == "failed"),
    "channels": _count(DeliveryMessage, _DELIVERED, what=DeliveryMessage.target.distinct()),
    "attempts": _count(DeliveryAttempt),
    "failed_attempts": _count(DeliveryAttempt, DeliveryAttempt.outcome != "delivered"),
    "attempt_ms": select(func.avg(DeliveryAttempt.duration_ms))
    .where(DeliveryAttempt.integration_id == Integration.id).scalar_subquery(),
    "people": select(func.count(DeliveryMention.person.distinct()))
    .join(DeliveryMessage, and_(DeliveryMessage.id == DeliveryMention.message_id, _DELIVERED,
                                DeliveryMessage.delivered_at >= SINCE))
    .where(DeliveryMention.integration_id == Integration.id).scalar_subquery(),
}
FIGURES = [q.label(f"fig_{name}") for name, q in _FIGURES.items()]
_BY_IDS = select(Integration.id, *(c for c in FIGURES if c.name in {
    "fig_messages", "fig_delivered", "fig_pending", "fig_failed", "fig_attempts", "fig_failed_attempts", "fig_attempt_ms",
})).where(Integration.id.in_(bindparam("ids", expanding=True)))


def since(now: datetime) -> dict[str, Any]:
    """The parameters a statement with :data:`FIGURES` runs with."""
    return {"figures_since": now - timedelta(days=MESSAGING_DAYS)}


def empty_delivery_statistics() -> dict[str, Any]:
    return {"messages": 0, "delivered": 0, "pending": 0, "failed": 0, "attempts": 0, "failedAttempts": 0,
            "successRate": None, "averageDurationMs": None}


def sync_figures(fig: Mapping[str, Any]) -> dict[str, Any]:
    """A calendar's (or whatever syncs) ``statistics`` from its row's figures."""
    finished, ms = int(fig["fig_finished"] or 0), fig["fig_last_ms"]
    return {
        "eventsSynced": int(fig["fig_links"] or 0),
        "lastSyncDuration": human(ms / 1000, compact=True) if ms is not None else None,
        "errorCount": int(fig["fig_run_errors"] or 0),
        "successRate": round(int(fig["fig_completed"] or 0) / finished, 4) if finished else None,
    }


def messaging_figures(fig: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's figures for a messaging integration (Slack, Teams): ``messagesSent``
    (delivered, ever), ``channelsConnected`` (channels delivered to) and ``activeUsers``
    (people mentioned in messages delivered in the last :data:`MESSAGING_DAYS` days: a
    plugin lists them under ``mentions`` in the payload it stores)."""
    return {"messagesSent": int(fig["fig_delivered"] or 0), "channelsConnected": int(fig["fig_channels"] or 0),
            "activeUsers": int(fig["fig_people"] or 0)}


def delivery_figures(fig: Mapping[str, Any]) -> dict[str, Any] | None:
    """Delivery counts, or None for an integration that never stored a message."""
    if not fig["fig_messages"] and not fig["fig_attempts"]:
        return None
    stats = empty_delivery_statistics()
    for key in ("messages", "delivered", "pending", "failed", "attempts"):
        stats[key] = int(fig[f"fig_{key}"] or 0)
    stats["failedAttempts"] = int(fig["fig_failed_attempts"] or 0)
    avg = fig["fig_attempt_ms"]
    stats["averageDurationMs"] = round(float(avg), 1) if avg is not None else None
    done = stats["delivered"] + stats["failed"]
    stats["successRate"] = round(stats["delivered"] / done, 4) if done else None
    return stats


async def delivery_statistics(svc: Services, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Delivery counts per integration (those that made some), for the deliveries routes."""
    if not ids:
        return {}
    rows = await svc.db.read(_BY_IDS, {"ids": list(ids)})
    return {r.id: stats for r in rows if (stats := delivery_figures(r._mapping)) is not None}
