"""A test notice on demand (``POST /api/integrations/:id/test`` with
``{"sendTestMessage": true}``, or ``axhub integrations test ID --send-test-message``):
the integration's own plugin gets a ``testNotification`` (``notify``) and stores one
message per channel its settings name; they are attempted at once, through the
delivery worker like any message (so each is in the messages log), and the answer
says what became of each one.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from ..db import DeliveryMessage, Integration
from ..errors import validation_error
from ..ids import new_id
from ..notifications import TEST_KIND
from ..runtime.services import Services
from ..types import Notification
from . import schemas as s

# How long the answer waits for the channels' first attempts; a message still waiting
# (a provider's Retry-After, the serving worker holding it) is reported "pending".
WAIT_SECONDS = 10.0


async def _stored(svc: Services, row: Integration, notification_id: str) -> list[DeliveryMessage]:
    async with svc.db.session() as session:
        return list((await session.scalars(
            select(DeliveryMessage).where(DeliveryMessage.integration_id == row.id, DeliveryMessage.kind == TEST_KIND,
                                          DeliveryMessage.dedupe_key.startswith(notification_id))
            .order_by(DeliveryMessage.target))).all())


def _view(m: DeliveryMessage) -> s.TestChannelOut:
    status = m.status if m.status in ("delivered", "failed") else "pending"
    return s.TestChannelOut(target=m.target, status=status, message_id=m.id,  # type: ignore[arg-type]
                            error=m.last_error if status != "delivered" else None)


def notice(integration_id: str, org_id: str, provider_name: str, at) -> Notification:
    """The test notice for one integration (``provider`` fills ``{provider}``)."""
    return Notification(kind=TEST_KIND, org_id=org_id, id=new_id("tst"), at=at,
                        data={"integrationId": integration_id, "provider": provider_name})


async def send(svc: Services, row: Integration) -> s.TestMessageOut:
    """Send the test notice to each of ``row``'s channels; refused (400, field
    ``sendTestMessage``) for a provider that sends no notifications."""
    info = svc.hub.provider(row.provider)
    if not svc.hub.implements(row.provider, "notify"):
        raise validation_error("sendTestMessage", f"{info.name} integrations send no notifications")
    notification = notice(row.id, row.org_id, info.name, svc.clock())
    await svc.hub.call(row.provider, "notify", notification=notification)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        stored = await _stored(svc, row, notification.id)
        waiting = [m for m in stored if m.status not in ("delivered", "failed")]
        if not waiting or time.monotonic() > deadline:
            break
        # Attempt what is due now rather than wait for the worker's next round; a message
        # the serving worker already holds settles there.
        if not await svc.worker.run_due():
            due_later = all(m.next_attempt_at is not None and m.next_attempt_at > svc.clock() for m in waiting)
            if due_later:
                break  # a retry after the provider's Retry-After: not for this answer
            await asyncio.sleep(0.05)
    return s.TestMessageOut(channels=[_view(m) for m in stored])
