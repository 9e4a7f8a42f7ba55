"""The subscriptions and signals tables, read and written for the rest of ``push``: a
stored subscription as the plugin sees it (secret opened), the lookup ``receive`` gets,
signals stored once each, pending signals claimed once across processes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db import PushSignal, PushSubscription
from ..ids import new_id
from ..inbound import Signal, Subscription
from ..runtime.services import Services

# States in which the subscription carries the integration's changes, or will.
LIVE = ("pending", "active", "failing")


def now() -> datetime:
    return datetime.now(timezone.utc)


def renew_time(sub_id: str, expires_at: datetime | None, margin: int, at: datetime) -> datetime | None:
    """When to renew: inside the last ``margin`` seconds before expiry but not in its
    last quarter, at a point drawn from the subscription's id, so that thousands made
    at once are renewed over the window instead of together. None: it never expires."""
    if expires_at is None:
        return None
    life = max(0.0, (expires_at - at).total_seconds())
    window = min(float(margin), life)
    fraction = int.from_bytes(hashlib.sha256(sub_id.encode()).digest()[:4], "big") / 2**32
    return expires_at - timedelta(seconds=window * (0.25 + 0.75 * fraction))


def as_subscription(svc: Services, row: PushSubscription) -> Subscription:
    return Subscription(id=row.id, integration_id=row.integration_id, org_id=row.org_id, provider=row.provider,
                        provider_id=row.provider_id, resource_id=row.resource_id, resource=row.resource,
                        secret=svc.cipher.open(row.secret).decode(), expires_at=row.expires_at, state=row.state)


async def create_pending(svc: Services, integration_id: str, org_id: str, provider: str) -> tuple[PushSubscription, str]:
    """A new subscription row, pending, with a fresh id and secret (sealed): stored
    before the provider is asked, so that its confirmation is recognised however early
    it comes. Returns the row and the secret in clear, for the request only."""
    at = now()
    secret = secrets.token_urlsafe(32)
    sub_id = new_id("sub")
    values: dict[str, Any] = dict(
        id=sub_id, integration_id=integration_id, org_id=org_id, provider=provider, provider_id=sub_id,
        resource_id=None, resource="", secret=svc.cipher.seal(secret.encode()), state="pending", expires_at=None,
        renew_at=None, confirmed_at=None, last_notified_at=None, last_error=None, failures=0, lease_owner=None,
        lease_until=None, created_at=at, updated_at=at)
    async with svc.db.session() as s, s.begin():
        await s.execute(insert(PushSubscription).values(**values))
    return PushSubscription(**values), secret


async def of_integration(svc: Services, integration_id: str, org_id: str) -> list[PushSubscription]:
    async with svc.db.session() as s:
        return list((await s.scalars(select(PushSubscription).where(
            PushSubscription.integration_id == integration_id, PushSubscription.org_id == org_id)
            .order_by(PushSubscription.created_at))).all())


async def update_row(svc: Services, sub_id: str, **values: Any) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(update(PushSubscription).where(PushSubscription.id == sub_id)
                        .values(updated_at=now(), **values))


async def remove(svc: Services, sub_id: str) -> None:
    async with svc.db.session() as s, s.begin():
        await s.execute(delete(PushSubscription).where(PushSubscription.id == sub_id))


class Lookup:
    """What a plugin's ``receive`` searches: this provider's live subscriptions."""

    def __init__(self, svc: Services, provider: str) -> None:
        self.svc, self.provider = svc, provider
        self.found: dict[str, PushSubscription] = {}

    async def by_provider_id(self, provider_id: str) -> Subscription | None:
        if not provider_id or len(provider_id) > 256:
            return None
        async with self.svc.db.session() as s:
            row = await s.scalar(select(PushSubscription).where(
                PushSubscription.provider == self.provider, PushSubscription.provider_id == provider_id,
                PushSubscription.state.in_(LIVE)))
        if row is None:
            return None
        self.found[row.id] = row
        return as_subscription(self.svc, row)

    async def by_resource(self, resource: str) -> list[Subscription]:
        if not resource or len(resource) > 1024:
            return []
        async with self.svc.db.session() as s:
            rows = (await s.scalars(select(PushSubscription).where(
                PushSubscription.provider == self.provider, PushSubscription.resource == resource,
                PushSubscription.state.in_(LIVE)).order_by(PushSubscription.created_at))).all()
        for row in rows:
            self.found[row.id] = row
        return [as_subscription(self.svc, row) for row in rows]


async def store_signals(svc: Services, rows: dict[str, PushSubscription], signals: tuple[Signal, ...]) -> list[str]:
    """Store each signal once (a duplicate of a stored one is dropped by the unique
    key) and note the notification on its subscription; a ``confirmed`` or ``changed``
    signal makes a pending subscription active. Returns the integrations with new work."""
    at = now()
    fresh: list[str] = []
    for signal in signals:
        row = rows.get(signal.subscription)
        if row is None:  # a plugin may only speak for the subscriptions it looked up
            continue
        try:
            async with svc.db.session() as s, s.begin():
                await s.execute(insert(PushSignal).values(
                    subscription_id=row.id, integration_id=row.integration_id, org_id=row.org_id, kind=signal.kind,
                    dedupe_key=signal.key[:200], detail=signal.detail[:500] or None, received_at=at,
                    handled_at=None, handled_by=None))
                values: dict[str, Any] = {"last_notified_at": at, "updated_at": at}
                if signal.kind in ("confirmed", "changed", "ended"):
                    # A change that came through the subscription proves it as well as the
                    # confirmation does (which may have been lost on the way).
                    if signal.kind == "confirmed":
                        values.update(confirmed_at=at)
                    await s.execute(update(PushSubscription).where(PushSubscription.id == row.id,
                                                                   PushSubscription.state == "pending")
                                    .values(state="active"))
                await s.execute(update(PushSubscription).where(PushSubscription.id == row.id).values(**values))
        except IntegrityError:
            continue  # delivered before: stored, and worked, once
        if row.integration_id not in fresh:
            fresh.append(row.integration_id)
    return fresh


async def claim_pending(svc: Services, integration_id: str, by: str) -> list[Any]:
    """Take every pending signal of the integration for this worker: one conditional
    UPDATE, so two processes never both take one; ``by`` is unique to this claim. The
    signals taken (kind, received_at, subscription_id, detail)."""
    at = now()
    async with svc.db.session() as s, s.begin():
        await s.execute(update(PushSignal).where(PushSignal.integration_id == integration_id,
                                                 PushSignal.handled_at.is_(None))
                        .values(handled_at=at, handled_by=by))
        return list((await s.execute(select(PushSignal.kind, PushSignal.received_at, PushSignal.subscription_id,
                                            PushSignal.detail)
                                     .where(PushSignal.integration_id == integration_id,
                                            PushSignal.handled_by == by))).all())


async def integrations_with_pending(svc: Services, older_than: datetime) -> list[str]:
    async with svc.db.session() as s:
        return list((await s.scalars(select(PushSignal.integration_id).where(
            PushSignal.handled_at.is_(None), PushSignal.received_at <= older_than).distinct())).all())


async def prune_signals(svc: Services, before: datetime) -> int:
    async with svc.db.session() as s, s.begin():
        gone = await s.execute(delete(PushSignal).where(PushSignal.handled_at.is_not(None),
                                                        PushSignal.handled_at < before))
    return gone.rowcount or 0
