"""The integration as the API shows it: its row, the figures read across domains
(``statistics``) and when its next automatic sync is due (``nextSync``), for many
integrations at once."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Mapping

import msgspec
from sqlalchemy import Row, bindparam, select

from ..auth import Identity
from ..db import Integration
from ..integrations import schemas as s
from ..integrations import service
from ..push.mode import Mode, modes, safety_due
from ..runtime.services import Services
from ..types import UserInfo
from ..vault import mask_settings
from .statistics import FIGURES, delivery_figures, empty_delivery_statistics, messaging_figures, since, sync_figures


async def views(svc: Services, rows: list[Integration]) -> list[s.IntegrationOut]:
    """Integration views of rows already read (and scoped), their figures read at once."""
    if not rows:
        return []
    figures = await _read(svc, _BY_IDS, ids=[r.id for r in rows], orgs=list({r.org_id for r in rows}))
    found = {f.id: f._mapping for f in figures}
    # A row gone since it was read (disconnected and purged meanwhile) has no figures left.
    return await _finished(svc, rows, [_statistics(svc, r, found.get(r.id, _NONE)) for r in rows])


async def listed(svc: Services, identity: Identity, provider: str | None = None, status: str | None = None,
                 type_: str | None = None) -> list[s.IntegrationOut]:
    """``GET /api/integrations``: the organisation's integrations with their figures, in
    one statement on one connection."""
    filters = service.list_filters(svc, provider, status, type_)
    return await _built(svc, await _read(svc, _listing(tuple(filters)), org=identity.org_id,
                                         **{f"f_{k}": v for k, v in filters.items()}))


async def owned_view(svc: Services, identity: Identity, integration_id: str) -> s.IntegrationOut:
    """One integration of the caller's organisation, as :func:`listed` shows it; 404 else
    (another organisation's is not found either)."""
    found = await _built(svc, await _read(svc, _OWNED, id=integration_id, org=identity.org_id))
    if not found:
        raise service.not_found(integration_id)
    return found[0]


def push_status(svc: Services, mode: Mode | None) -> s.PushStatus | None:
    if mode is None:
        return None
    return s.PushStatus(mode=mode.mode, state=mode.state, until=mode.until, reason=mode.reason,  # type: ignore[arg-type]
                        last_notification_at=mode.last_notification_at,
                        safety_poll_seconds=svc.config.push_safety_poll if mode.healthy else None)


async def push_of(svc: Services, row: Integration) -> s.PushStatus | None:
    """The integration's push status alone (``POST /test``)."""
    return push_status(svc, (await modes(svc, [row])).get(row.id))


async def one_view(svc: Services, row: Integration) -> s.IntegrationOut:
    return (await views(svc, [row]))[0]


# The statements, built once: SQLAlchemy keys its compiled-statement cache by walking the
# statement, which for these (fifteen subqueries) costs more than running them; a
# statement object remembers its key.
_COLUMNS = (*Integration.__table__.c, *FIGURES)
_NONE = {c.name: None for c in FIGURES}
_OWNED = select(*_COLUMNS).where(Integration.id == bindparam("id"), Integration.org_id == bindparam("org"))
_BY_IDS = select(*_COLUMNS).where(Integration.id.in_(bindparam("ids", expanding=True)),
                                  Integration.org_id.in_(bindparam("orgs", expanding=True)))


@functools.cache
def _listing(filters: tuple[str, ...]) -> Any:
    return (select(*_COLUMNS)
            .where(Integration.org_id == bindparam("org"), *(service.FILTERS[k] == bindparam(f"f_{k}") for k in filters))
            .order_by(*service.LISTED))


async def _read(svc: Services, statement: Any, **params: Any) -> list[Row]:
    return await svc.db.read(statement, {**params, **since(svc.clock())})  # one statement, one checkout


async def _built(svc: Services, rows: list[Row]) -> list[s.IntegrationOut]:
    return await _finished(svc, rows, [_statistics(svc, r, r._mapping) for r in rows])  # type: ignore[arg-type]


async def _finished(svc: Services, rows: list[Any], statistics: list[dict[str, Any]]) -> list[s.IntegrationOut]:
    """The views, with ``nextSync`` from the integration's grid (what its schedule holds,
    known without asking the scheduler's store: scheduler/grid.py) and push's state."""
    pushed = await modes(svc, rows)
    out = []
    for row, stats in zip(rows, statistics):
        next_sync = svc.scheduler.next_sync(row)
        mode = pushed.get(row.id)
        due = safety_due(svc, row) if mode is not None and mode.healthy else None
        if due is not None and next_sync is not None and due > next_sync:
            # With push healthy the syncInterval fires pass until the safety poll is due.
            next_sync = svc.scheduler.next_sync(row, due)
        out.append(view(svc, row, stats, next_sync, push_status(svc, mode)))
    return out


def _statistics(svc: Services, row: Any, fig: Mapping[str, Any]) -> dict[str, Any]:
    """Every integration has its figures, zeros where nothing happened: the sync shape
    for whatever syncs (calendars, Zoom), the messaging shape for chats, and for
    outbound webhooks their deliveries, summed up in the messaging words."""
    stats: dict[str, Any] = {}
    if row.type == "calendar" or _syncs(svc, row.provider):
        stats = sync_figures(fig)
    elif row.type == "communication":
        stats = messaging_figures(fig)
    counts = delivery_figures(fig)
    if row.type == "webhook":
        counts = counts or empty_delivery_statistics()
        stats = {"messagesSent": counts["delivered"], "errorCount": counts["failed"],
                 "successRate": counts["successRate"], **stats}
    if counts is not None:  # outbound deliveries, for every integration that made some
        stats["deliveries"] = counts
    return stats


def _syncs(svc: Services, slug: str) -> bool:
    record = svc.plugins.records.get(slug)
    return record is not None and record.status == "loaded" and svc.hub.implements(slug, "sync")


def _secret_paths(svc: Services, slug: str) -> tuple[str, ...]:
    record = svc.plugins.records.get(slug)
    return record.info.secret_settings if record is not None and record.info is not None else ()


def view(svc: Services, row: Integration, statistics: dict[str, Any], next_sync: datetime | None = None,
         push: s.PushStatus | None = None) -> s.IntegrationOut:
    last_error = (
        s.LastError(code=row.last_error, message=row.last_error_message, at=row.last_error_at)
        if row.last_error
        else None
    )
    return s.IntegrationOut(
        id=row.id,
        provider=row.provider,
        type=row.type,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        connected_at=row.connected_at,
        last_sync=row.last_sync,
        last_activity=row.last_activity,
        disconnected_at=row.disconnected_at,
        settings=mask_settings(row.settings, _secret_paths(svc, row.provider)),
        notifications=msgspec.convert(row.notifications, s.NotificationPrefs),
        scopes=list(row.requested_scopes),
        permissions=list(row.permissions),
        statistics=msgspec.convert(statistics, s.IntegrationStatistics),
        connected_by=s.Person(**row.connected_by),
        account=msgspec.convert(row.account, UserInfo),
        last_error=last_error,
        next_sync=next_sync,
        push=push,
    )
