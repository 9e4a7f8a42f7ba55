"""Housekeeping jobs: grants refreshed before they expire even when idle, a round of
due delivery retries, push subscriptions renewed and repaired, and forgetting notice
keys nobody can send again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from sqlalchemy import select

from ..db import Credential, Integration
from ..errors import ProviderError
from ..metering import attribute
from ..deliveries.notices import sum_up
from ..push.lifecycle import open_missing, renew_due
from ..runtime.once import prune

if TYPE_CHECKING:
    from ..runtime.services import Services

log = logging.getLogger("axhub.scheduler")

# Dedupe keys are kept this long: longer than any window above.
KEEP_KEYS = timedelta(days=35)



async def token_refresh(svc: "Services", at: datetime) -> int:
    """Refresh grants due for refresh (within ``AXHUB_REFRESH_MARGIN`` of expiry) even
    when nothing uses them: an idle integration would otherwise find its token long
    dead. Run every minute, so a grant is refreshed well before it expires; the vault
    refreshes each grant once however many processes ask."""
    due = at + timedelta(seconds=svc.config.refresh_margin)
    async with svc.db.session() as s:
        rows = (await s.scalars(select(Integration).join(Credential, Credential.integration_id == Integration.id)
                                .where(Integration.status == "connected", Credential.expires_at.is_not(None),
                                       Credential.expires_at <= due))).all()
    refreshed = 0
    for row in rows:
        if not svc.hub.implements(row.provider, "refresh"):
            continue
        try:
            await svc.vault.get(row.id, _refresher(svc, row))
            refreshed += 1
        except ProviderError as exc:
            # The vault logged the failure (axhub.failures); this adds which job met it.
            log.debug("token refresh of %s failed: %s", row.id, exc.message)
    return refreshed


def _refresher(svc: "Services", row: Integration) -> Callable[[Any], Awaitable[Any]]:
    async def refresh(creds):
        # The token call counts in analytics for the organisation whose grant it renews,
        # as when a sync's own refresh makes it (axhub.integrations.service.connection).
        attribute(row.provider, row.org_id, row.id)
        return await svc.hub.call(row.provider, "refresh", credentials=creds)

    return refresh


async def delivery_retries(svc: "Services", at: datetime) -> int:
    """One round of the delivery worker, from the scheduler: retries fall due even in a
    process whose own worker loop is off (``AXHUB_DELIVERY_WORKER=0``, ``axhub worker``).
    Leases keep two processes from attempting the same message."""
    done = await svc.worker.run_due(at)
    # The failures of each target since its first was told, summed up once its window closes.
    await sum_up(svc, at)
    return done


async def upkeep(svc: "Services", at: datetime) -> int:
    return await prune(svc, KEEP_KEYS, at)


async def push_upkeep(svc: "Services", at: datetime) -> int:
    """Renew the push subscriptions whose time came (each once across processes), open
    the missing ones, and work signals whose worker was lost; every minute, so a
    subscription is renewed well inside its window."""
    renewed = await renew_due(svc, at)
    opened = await open_missing(svc)
    swept = await svc.push.sweep(at)
    if renewed or opened or swept:
        log.info("push upkeep: %s, %d opened, %d integrations swept", renewed, opened, swept)
    return sum(renewed.values()) + opened + swept
