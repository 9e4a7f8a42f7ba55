"""Notifications sent once: a row keyed by (kind, key) is inserted with the notification's
outbox row. The insert that wins sends; any other (a restart, a crashed run done again,
a second process firing the same job) meets the primary key and does not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from ..db import SentNotification

if TYPE_CHECKING:
    from ..state import Services


async def send_once(svc: "Services", kind: str, key: str, org_id: str, data: dict[str, Any],
                    at: datetime | None = None) -> bool:
    """Claim ``(kind, key)`` and write the notification to the signal outbox in one
    transaction: the claim exists exactly when the notification will be broadcast
    (again after a crash, by the outbox), so it goes out once. False if claimed before."""
    try:
        async with svc.db.session() as s, s.begin():
            await s.execute(insert(SentNotification).values(kind=kind, key=key[:300], org_id=org_id,
                                                            sent_at=at or datetime.now(timezone.utc)))
            svc.signals.emit(s, kind, org_id, data, dedupe_key=f"{kind}:{key}")
    except IntegrityError:
        return False
    return True


async def prune(svc: "Services", older_than: timedelta, at: datetime) -> int:
    """Forget keys nobody can send again (their event, week or run is long past)."""
    async with svc.db.session() as s, s.begin():
        result = await s.execute(delete(SentNotification).where(SentNotification.sent_at < at - older_than))
    return result.rowcount or 0
