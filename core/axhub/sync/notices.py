"""A finished run told to people: the ``syncErrorNotification`` and
``syncSuccessNotification`` notices, written in the transaction of the run's final
record and sent once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Integration
from ..runtime.once import send_once_in
from ..runtime.services import Services


def what_failed(stats: dict[str, Any], errors: list[dict[str, Any]]) -> str | None:
    """A partial run's reason in words: how many events failed of how many, under which
    codes, and the first error (a failed run has its own message)."""
    failed = [e for e in errors if e.get("eventId")] or errors
    if not failed:
        return None
    codes = Counter(e.get("code") or "SYNC_FAILED" for e in failed)
    processed = stats.get("eventsProcessed")
    share = f"{len(failed)} of {processed}" if processed else str(len(failed))
    first = next((e.get("error") for e in failed if e.get("error")), None)
    return (f"{share} event(s) not synced ({', '.join(f'{c} ×{n}' for c, n in codes.most_common())})"
            + (f"; first: {first}" if first else ""))


async def after_sync(svc: Services, session: AsyncSession, row: Integration, run_id: str, status: str,
                     stats: dict[str, Any], message: str | None, errors: list[dict[str, Any]] = ()) -> bool:
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
    if status == "partial" and not message:
        message = what_failed(stats, list(errors))
    data = {"integrationId": row.id, "provider": row.provider, "name": row.name, "syncId": run_id, "status": status,
            "statistics": stats, "message": message}
    return await send_once_in(svc, session, kind, run_id, row.org_id, data)
