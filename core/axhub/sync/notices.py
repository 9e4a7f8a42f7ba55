"""A finished run told to people: the ``syncErrorNotification`` and
``syncSuccessNotification`` notices, written in the transaction of the run's final
record and sent once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Integration
from ..runtime.once import send_once_in
from ..runtime.services import Services


async def after_sync(svc: Services, session: AsyncSession, row: Integration, run_id: str, status: str,
                     stats: dict[str, Any], message: str | None) -> bool:
    """A finished run told to people as the integration's ``notifications`` ask:
    ``syncErrorNotification`` (``syncErrors``, on by default) for a failed or partial
    run, ``syncSuccessNotification`` (``syncSuccess``) for a clean one. Called in the
    transaction of the run's final record (``session``): the notice is in the outbox
    exactly when the run is seen finished, so a crash after that commit loses nothing."""
    # As set now, not when the run started: a notice turned off during a long run stays off.
    current = await session.scalar(select(Integration.notifications).where(Integration.id == row.id))
    prefs = (current if current is not None else row.notifications) or {}
    if status in ("failed", "partial"):
        if not prefs.get("syncErrors", True):
            return False
        kind = "syncErrorNotification"
    else:
        if not prefs.get("syncSuccess", False):
            return False
        kind = "syncSuccessNotification"
    data = {"integrationId": row.id, "provider": row.provider, "name": row.name, "syncId": run_id, "status": status,
            "statistics": stats, "message": message}
    return await send_once_in(svc, session, kind, run_id, row.org_id, data)
