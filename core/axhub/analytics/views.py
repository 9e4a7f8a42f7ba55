"""The integration as the API shows it: its row, the figures read across domains
(``statistics``) and when its next automatic sync is due (``nextSync``), for many
integrations at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ..db import Integration
from ..integrations import schemas as s
from ..push.mode import Mode, modes, safety_due
from ..runtime.services import Services
from ..types import UserInfo
from ..vault import mask_settings
from .statistics import delivery_statistics, empty_delivery_statistics, messaging_statistics, sync_statistics


async def views(svc: Services, rows: list[Integration]) -> list[s.IntegrationOut]:
    """Integration views with their ``statistics``, computed for all rows at once."""
    # Every integration has its figures, zeros where nothing happened: the sync shape
    # for whatever syncs (calendars, Zoom), the messaging shape for chats, and for
    # outbound webhooks their deliveries, summed up in the messaging words.
    syncing = [r.id for r in rows if r.type == "calendar" or _syncs(svc, r.provider)]
    stats = await sync_statistics(svc, syncing)
    stats.update(await messaging_statistics(svc, [r.id for r in rows if r.type == "communication" and r.id not in stats]))
    deliveries = await delivery_statistics(svc, [r.id for r in rows])
    for r in rows:
        counts = deliveries.get(r.id)
        if r.type == "webhook":
            counts = counts or empty_delivery_statistics()
            stats[r.id] = {"messagesSent": counts["delivered"], "errorCount": counts["failed"],
                           "successRate": counts["successRate"], **stats.get(r.id, {})}
        if counts is not None:  # outbound deliveries, for every integration that made some
            stats.setdefault(r.id, {})["deliveries"] = counts
    scheduled = [r for r in rows if svc.scheduler.interval_of(r) is not None]
    fires = await svc.scheduler.next_fire_times([r.id for r in scheduled])
    # The schedule's own next fire time; its grid (the same answer) when none is held here.
    next_syncs = {r.id: fires.get(r.id) or svc.scheduler.next_sync(r) for r in scheduled}
    pushed = await modes(svc, rows)
    for r in scheduled:
        due = safety_due(svc, r) if r.id in pushed and pushed[r.id].healthy else None
        if due is not None and next_syncs[r.id] is not None and due > next_syncs[r.id]:
            # With push healthy the syncInterval fires pass until the safety poll is due.
            next_syncs[r.id] = svc.scheduler.next_sync(r, due)
    return [view(svc, r, stats.get(r.id, {}), next_syncs.get(r.id), push_status(svc, pushed.get(r.id)))
            for r in rows]


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
