"""Notifications sent once: a row keyed by (kind, key) is inserted with the notification's
outbox row. The insert that wins sends; any other (a restart, a crashed run done again,
a second process firing the same job) meets the primary key and does nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from ..db import SentNotification

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .services import Services


async def send_once(svc: "Services", kind: str, key: str, org_id: str, data: dict[str, Any],
                    at: datetime | None = None) -> bool:
    """Claim ``(kind, key)`` and write the notification to the signal outbox in one
    transaction: the claim exists exactly when the notification will be broadcast
    (again after a crash, by the outbox), so it goes out once. False if claimed before."""
    async with svc.db.session() as s, s.begin():
        return await send_once_in(svc, s, kind, key, org_id, data, at)


async def send_once_in(svc: "Services", session: "AsyncSession", kind: str, key: str, org_id: str,
                       data: dict[str, Any], at: datetime | None = None) -> bool:
    """:func:`send_once` within the caller's transaction, so that the notice is recorded
    with the change it tells of (a sync run's final record) or not at all. A key claimed
    before is skipped without a unique-key error, which would abort the caller's work."""
    claimed = await session.execute(svc.db.insert_ignoring(SentNotification).values(
        kind=kind, key=key[:300], org_id=org_id, sent_at=at or datetime.now(timezone.utc)))
    if claimed.rowcount != 1:
        return False
    svc.signals.emit(session, kind, org_id, data, dedupe_key=f"{kind}:{key}")
    return True


async def prune(svc: "Services", older_than: timedelta, at: datetime) -> int:
    """Forget keys nobody can send again (their event, week or run is long past)."""
    async with svc.db.session() as s, s.begin():
        result = await s.execute(delete(SentNotification).where(SentNotification.sent_at < at - older_than))
    return result.rowcount or 0
