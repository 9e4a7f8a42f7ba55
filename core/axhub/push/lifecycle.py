"""Subscriptions follow their integration: opened when it is connected (and push is
possible), renewed before they expire, removed at the provider before it is
disconnected; and the round that repairs what failed (``upkeep``)."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..db import Integration, PushSubscription
from ..errors import ProviderError
from ..inbound import SubscribeRequest, Subscribed
from ..integrations.service import connection
from ..runtime.services import Services
from . import store
from .store import LIVE, now, renew_time

log = logging.getLogger("axhub.push")

LEASE = timedelta(minutes=2)  # longer than a renewal's provider calls take
BATCH = 200  # subscriptions renewed or opened per round, per process


def pushes(svc: Services, provider: str) -> bool:
    """Whether the provider's plugin has the push capability (``subscribe`` and ``receive``)."""
    return svc.hub.implements(provider, "subscribe") and svc.hub.implements(provider, "receive")


def _request(svc: Services, address: str, row: PushSubscription, secret: str, provider: str) -> SubscribeRequest:
    return SubscribeRequest(id=row.id, secret=secret, address=f"{address}/hooks/{provider}", ttl_seconds=svc.config.push_ttl)


def _said(exc: Exception) -> str:
    """What a failure is recorded as: the spec's code and the provider's message, or
    (a plugin's own fault) only the exception's type, which carries no secret."""
    if isinstance(exc, ProviderError):
        return f"{exc.code}: {exc.message}"[:2000]
    return f"INTERNAL_ERROR: the plugin failed ({type(exc).__name__})"


def _backoff(failures: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(0, failures - 1), 3600))


async def _saved(svc: Services, sub_id: str, got: Subscribed, at: datetime) -> None:
    # The state is left alone: a confirmation may have come (active) before the answer.
    await store.update_row(svc, sub_id, provider_id=got.provider_id, resource_id=got.resource_id,
                           resource=got.resource[:1024], expires_at=got.expires_at, failures=0, last_error=None,
                           renew_at=renew_time(sub_id, got.expires_at, svc.config.push_renew_margin, at))


async def open_for(svc: Services, row: Integration) -> str | None:
    """Open the integration's subscription if it can push and has none live. Returns
    the new subscription's id (None: nothing opened)."""
    address, _why = svc.config.push_address()
    if address is None or row.status != "connected" or not pushes(svc, row.provider):
        return None
    if any(sub.state in LIVE for sub in await store.of_integration(svc, row.id, row.org_id)):
        return None
    sub, secret = await store.create_pending(svc, row.id, row.org_id, row.provider)
    at = now()
    try:
        got = await svc.hub.call(row.provider, "subscribe", connection=connection(svc, row),
                                 request=_request(svc, address, sub, secret, row.provider))
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not leave it pending for ever
        # Kept as failing: the integration polls meanwhile, and upkeep tries again.
        await store.update_row(svc, sub.id, state="failing", failures=1, last_error=_said(exc), renew_at=at + _backoff(1))
        log.warning("push subscription of %s not opened: %s", row.id, _said(exc))
        return sub.id
    await _saved(svc, sub.id, got, at)
    log.info("push subscription %s of %s opened, expires %s", sub.id, row.id, got.expires_at)
    return sub.id


async def close_for(svc: Services, row: Integration) -> int:
    """Remove every subscription of the integration at the provider, then here: before
    its grant is revoked (the provider would refuse the call after). A provider that
    fails to answer leaves a subscription that expires on its own: ours is gone, so
    its notifications are refused (404)."""
    subs = await store.of_integration(svc, row.id, row.org_id)
    removed = 0
    for sub in subs:
        if sub.expires_at is not None or sub.resource_id is not None:  # it exists at the provider
            try:
                await svc.hub.call(row.provider, "unsubscribe", connection=connection(svc, row),
                                   subscription=store.as_subscription(svc, sub))
                removed += 1
            except ProviderError as exc:
                log.warning("push subscription %s of %s not removed at %s: %s", sub.id, row.id, row.provider, exc.message)
        await store.remove(svc, sub.id)
    return removed


async def _claim(svc: Services, sub_id: str, at: datetime, owner: str) -> bool:
    """One conditional UPDATE: the renewal is this process's, once, however many run the round."""
    async with svc.db.session() as s, s.begin():
        taken = await s.execute(update(PushSubscription).where(
            PushSubscription.id == sub_id, PushSubscription.state.in_(LIVE), PushSubscription.renew_at <= at,
            or_(PushSubscription.lease_until.is_(None), PushSubscription.lease_until < at))
            .values(lease_owner=owner, lease_until=at + LEASE))
    return taken.rowcount == 1


async def renew_one(svc: Services, old: PushSubscription, at: datetime) -> str:
    """Renew (or, for one that never opened, open again) one subscription whose time
    came. ``renewed``, ``failed``, ``skipped`` (not ours, or nothing to renew for)."""
    owner = f"{os.getpid()}-{secrets.token_hex(6)}"
    if not await _claim(svc, old.id, at, owner):
        return "skipped"
    async with svc.db.session() as s:
        row = await s.get(Integration, old.integration_id)
    address, _why = svc.config.push_address()
    if row is None or row.status != "connected" or address is None or not pushes(svc, row.provider):
        await store.update_row(svc, old.id, lease_owner=None, lease_until=None, renew_at=None)
        return "skipped"
    existed = old.expires_at is not None or old.resource_id is not None
    new, secret = await store.create_pending(svc, row.id, row.org_id, row.provider)
    request = _request(svc, address, new, secret, row.provider)
    try:
        if existed and (old.expires_at is None or old.expires_at > at):  # still open there: renewed
            got = await svc.hub.call(row.provider, "renew", connection=connection(svc, row),
                                     subscription=store.as_subscription(svc, old), request=request)
        else:  # never opened, or expired there: opened again
            got = await svc.hub.call(row.provider, "subscribe", connection=connection(svc, row), request=request)
    except Exception as exc:  # noqa: BLE001 - likewise: failing, retried with backoff
        await store.remove(svc, new.id)
        failures = old.failures + 1
        await store.update_row(svc, old.id, state="failing", failures=failures, lease_owner=None, lease_until=None,
                               last_error=_said(exc), renew_at=at + _backoff(failures))
        log.warning("push subscription %s of %s not renewed (%d failures): %s", old.id, row.id, failures, _said(exc))
        return "failed"
    if got.provider_id == old.provider_id:  # renewed in place (Graph's PATCH): the old row lives on
        await store.remove(svc, new.id)
        await store.update_row(svc, old.id, state="active", lease_owner=None, lease_until=None)
        await _saved(svc, old.id, got, at)
    else:  # a new subscription replaced it (Google: a new channel, the old one stopped)
        await _saved(svc, new.id, got, at)
        await store.remove(svc, old.id)
    log.info("push subscription of %s renewed, expires %s", row.id, got.expires_at)
    return "renewed"


async def renew_due(svc: Services, at: datetime) -> dict[str, int]:
    """Renew the subscriptions whose renewal time came (each at its own point of its
    window, so a crowd made together is renewed spread out)."""
    async with svc.db.session() as s:
        due = (await s.scalars(select(PushSubscription).where(PushSubscription.state.in_(LIVE),
                                                             PushSubscription.renew_at <= at)
                               .order_by(PushSubscription.renew_at).limit(BATCH))).all()
    outcome: dict[str, int] = {}
    for sub in due:
        result = await renew_one(svc, sub, at)
        outcome[result] = outcome.get(result, 0) + 1
    return outcome


async def open_missing(svc: Services) -> int:
    """Open the subscriptions of connected integrations that can push and have none
    (connected while push was off, or a subscription removed by its provider)."""
    address, _why = svc.config.push_address()
    if address is None:
        return 0
    slugs = [r.name for r in svc.plugins.loaded() if pushes(svc, r.name)]
    if not slugs:
        return 0
    live = select(PushSubscription.integration_id).where(PushSubscription.state.in_(LIVE))
    async with svc.db.session() as s:
        rows = (await s.scalars(select(Integration).where(
            Integration.status == "connected", Integration.provider.in_(slugs), Integration.id.not_in(live))
            .limit(BATCH))).all()
    opened = 0
    for row in rows:
        if await open_for(svc, row):
            opened += 1
    return opened


async def mark_for_renewal(svc: Services, subscription_ids: list[str], at: datetime, *, gone: bool = False) -> None:
    """A provider asked for a renewal (reauthorisation), or dropped a subscription
    (``gone``: it ends now, so the next round opens a new one instead of renewing)."""
    values: dict[str, Any] = {"renew_at": at, "updated_at": at}
    if gone:
        values["expires_at"] = at
    async with svc.db.session() as s, s.begin():
        await s.execute(update(PushSubscription).where(PushSubscription.id.in_(subscription_ids)).values(**values))


async def follow(svc: Services, row: Integration) -> None:
    """The integration was connected or its settings saved: open its subscription if it
    has none live, else renew the live ones at once, so that they watch what the new
    settings sync (another calendar) rather than what the old ones did."""
    live = [sub for sub in await store.of_integration(svc, row.id, row.org_id) if sub.state in LIVE]
    if not live:
        await open_for(svc, row)
        return
    at = now()
    await mark_for_renewal(svc, [sub.id for sub in live], at)
    for sub in await store.of_integration(svc, row.id, row.org_id):
        if sub.id in {s.id for s in live}:
            await renew_one(svc, sub, at)
