"""Google Calendar push: ``events.watch`` on the synced calendar, ``channels.stop``,
and the verification of Google's notifications (docs/push.md).

A channel's id and token are the hub's (``request.id``, ``request.secret``): Google
echoes the token in ``X-Goog-Channel-Token`` on every notification, and the resource
id it answered the watch with in ``X-Goog-Resource-ID``; both are compared in
constant time with what the hub stored. ``X-Goog-Resource-State`` is ``sync`` for the
message that follows a watch (acknowledged: it confirms the channel) and ``exists``
or ``not_exists`` for a change; ``X-Goog-Message-Number`` identifies a message, so a
redelivered one is recognised. Google's channels cannot be renewed: a renewal is a new
channel, then ``channels.stop`` on the old one.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from urllib.parse import quote

from axhub import (
    Connection, InboundAnswer, InboundRequest, ProviderContext, ProviderError, Signal, SubscribeRequest, Subscribed,
    Subscription, SubscriptionLookup,
)

from .errors import google_error

CHANGED = ("exists", "not_exists")


async def watch(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    calendar = connection.settings.calendar_id
    expiration = int((datetime.now(timezone.utc).timestamp() + request.ttl_seconds) * 1000)
    response = await ctx.call(
        "POST", f"{ctx.endpoint('api')}/calendars/{quote(calendar, safe='@.')}/events/watch",
        token=await connection.access_token(), errors=google_error,
        json={"id": request.id, "type": "web_hook", "address": request.address, "token": request.secret,
              "expiration": str(expiration)})
    channel = response.json()
    expires = channel.get("expiration")
    return Subscribed(provider_id=channel.get("id") or request.id, resource_id=channel.get("resourceId"),
                      resource=calendar,
                      expires_at=datetime.fromtimestamp(int(expires) / 1000, timezone.utc) if expires else None)


async def stop(ctx: ProviderContext, connection: Connection, subscription: Subscription) -> None:
    try:
        await ctx.call("POST", f"{ctx.endpoint('api')}/channels/stop", token=await connection.access_token(),
                       errors=google_error, json={"id": subscription.provider_id, "resourceId": subscription.resource_id})
    except ProviderError as exc:
        if exc.status != 404:  # a channel Google no longer knows (expired) is stopped already
            raise


async def renew(ctx: ProviderContext, connection: Connection, subscription: Subscription,
                request: SubscribeRequest) -> Subscribed:
    opened = await watch(ctx, connection, request)
    try:
        await stop(ctx, connection, subscription)
    except ProviderError:
        pass  # the new channel works; the old one expires on its own, and the hub refuses it (404) meanwhile
    return opened


def _same(given: str | None, stored: str | None) -> bool:
    return given is not None and stored is not None and hmac.compare_digest(given.encode(), stored.encode())


async def receive(request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    headers = request.headers
    channel_id = headers.get("x-goog-channel-id")
    state = headers.get("x-goog-resource-state")
    number = headers.get("x-goog-message-number")
    if not channel_id or not state or not number:
        return InboundAnswer.refused(401, "not a Google notification: channel id, resource state or message number missing")
    subscription = await subscriptions.by_provider_id(channel_id)
    if subscription is None:
        return InboundAnswer.refused(404, f"unknown channel {channel_id[:64]!r}")
    if not _same(headers.get("x-goog-channel-token"), subscription.secret):
        return InboundAnswer.refused(401, f"channel {channel_id[:64]!r}: the token does not match")
    # Known once the watch has answered; the sync message may come before that answer.
    if subscription.resource_id is not None and not _same(headers.get("x-goog-resource-id"), subscription.resource_id):
        return InboundAnswer.refused(401, f"channel {channel_id[:64]!r}: the resource id does not match")
    if state == "sync":
        kind = "confirmed"
    elif state in CHANGED:
        kind = "changed"
    else:
        return InboundAnswer.refused(400, f"unknown resource state {state[:32]!r}")
    return InboundAnswer(status=200, signals=(Signal(kind=kind, subscription=subscription.id, key=f"google:{number[:64]}",
                                                     detail=state),))
