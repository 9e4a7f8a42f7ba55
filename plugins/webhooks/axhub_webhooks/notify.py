"""Which notifications become messages, for which endpoint (the ``notify`` hook)."""

from __future__ import annotations

import msgspec

from axhub import Notification, Policy, ProviderContext

SLUG = "webhooks"


def body(notification: Notification) -> bytes:
    return msgspec.json.encode({"type": notification.kind, "timestamp": notification.at, "data": notification.data})


async def _moved_enough(ctx: ProviderContext, connection, notification: Notification, minimum: float) -> bool:
    """An attendanceUpdated goes out only when the rate moved at least ``minimum``
    since the last one sent for the same event."""
    rate = notification.data.get("attendanceRate")
    if minimum <= 0 or rate is None:
        return True
    last = await ctx.deliveries.last_payload(connection, notification.kind, notification.data.get("eventId"))
    if last is None:
        return True
    before = msgspec.json.decode(last).get("data", {}).get("attendanceRate")
    return before is None or abs(rate - before) >= minimum - 1e-9


async def notify(ctx: ProviderContext, notification: Notification) -> None:
    if notification.kind == "integrationError" and notification.data.get("provider") == SLUG:
        return  # a failing webhook reported through webhooks would feed itself
    payload = None
    for connection in await ctx.deliveries.integrations(notification.org_id):
        endpoint = connection.settings.webhooks.get(notification.kind)
        if endpoint is None or not endpoint.enabled:
            continue
        event_type = notification.data.get("type")
        if endpoint.filters.event_types and event_type is not None and event_type not in endpoint.filters.event_types:
            continue
        subject = notification.data.get("eventId") or notification.data.get("id")
        if notification.kind == "attendanceUpdated" and not await _moved_enough(
                ctx, connection, notification, endpoint.filters.min_attendance_change):
            continue
        payload = payload or body(notification)
        policy = Policy(endpoint.retry_policy.max_retries, endpoint.retry_policy.backoff_multiplier)
        await ctx.deliveries.enqueue(connection, target=notification.kind, kind=notification.kind, payload=payload,
                                     key=notification.id, subject=subject, policy=policy)
