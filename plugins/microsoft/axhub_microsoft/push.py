"""Microsoft Graph push: a subscription to the synced calendar's events
(``POST /subscriptions``), renewed in place (``PATCH``), removed on disconnect
(``DELETE``), and the verification of what Graph sends (docs/push.md).

Graph validates an address before it creates a subscription: it POSTs
``?validationToken=…`` to the ``notificationUrl`` and the ``lifecycleNotificationUrl``
and wants the token back, ``text/plain``, within 10 seconds. Both addresses carry the
hub's id of the subscription (``/hooks/microsoft/{id}`` and ``…/{id}/lifecycle``): while
it is pending, the handshake confirms it, so the integration is pushed to as soon as
Graph has said yes. Notifications come as ``{"value": [...]}`` batches, each item
naming its ``subscriptionId`` and carrying the ``clientState`` the hub chose (its
per-subscription secret), compared in constant time; each item is verified on its own.
Graph sends no message id: an item's key is a digest of what identifies the change
(the subscription, the change type, the event and its etag), so a redelivery is the
same key and is worked once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from axhub import (
    Connection, InboundAnswer, InboundRequest, ProviderContext, ProviderError, Signal, SubscribeRequest, Subscribed,
    Subscription, SubscriptionLookup,
)

from .graph import graph_error

log = logging.getLogger("axhub.microsoft")

# Graph's longest subscription to Outlook events without resource data is 10,080
# minutes; ask a few minutes less, so that the clocks' skew never makes it refuse.
MAX_LIFETIME = timedelta(minutes=10080) - timedelta(minutes=5)
CHANGES = "created,updated,deleted"
# What a lifecycle event asks of the hub (docs: "Reduce missing subscriptions and change notifications").
LIFECYCLE = {"reauthorizationRequired": "reauthorize", "subscriptionRemoved": "removed", "missed": "changed"}
MAX_TOKEN = 2048  # a validation token longer than this is no token of Graph's
MAX_ITEMS = 1000


def resource_of(connection: Connection) -> str:
    calendar = connection.settings.calendar_id
    # me/events is the mailbox's events (the default calendar's among them): Graph has
    # no subscription path for "the default calendar" alone.
    return "me/events" if calendar == "primary" else f"me/calendars/{quote(calendar, safe='=')}/events"


def _expiry(ttl_seconds: int) -> str:
    moment = datetime.now(timezone.utc) + min(timedelta(seconds=ttl_seconds), MAX_LIFETIME)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _instant(text: str) -> datetime:
    """Graph's DateTimeOffset ("2026-06-10T08:00:00.1234567Z": seven digits of fraction,
    more than Python reads) as an aware datetime in UTC."""
    moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00")))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _subscribed(body: dict[str, Any], resource: str) -> Subscribed:
    expires = body.get("expirationDateTime")
    return Subscribed(provider_id=str(body["id"]), resource=body.get("resource") or resource,
                      expires_at=_instant(expires) if expires else None)


async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    resource = resource_of(connection)
    response = await ctx.call(
        "POST", f"{ctx.endpoint('graph')}/subscriptions", token=await connection.access_token(), errors=graph_error,
        json={"changeType": CHANGES, "notificationUrl": f"{request.address}/{request.id}",
              "lifecycleNotificationUrl": f"{request.address}/{request.id}/lifecycle", "resource": resource,
              "expirationDateTime": _expiry(request.ttl_seconds), "clientState": request.secret,
              "latestSupportedTlsVersion": "v1_2"})
    return _subscribed(response.json(), resource)


async def renew(ctx: ProviderContext, connection: Connection, subscription: Subscription,
                request: SubscribeRequest) -> Subscribed:
    if subscription.resource != resource_of(connection):
        # The settings now sync another calendar: a PATCH cannot move a subscription.
        opened = await subscribe(ctx, connection, request)
        try:
            await unsubscribe(ctx, connection, subscription)
        except ProviderError:
            pass  # the new one works; the old one expires, and the hub refuses it (404) meanwhile
        return opened
    try:
        response = await ctx.call(
            "PATCH", f"{ctx.endpoint('graph')}/subscriptions/{quote(subscription.provider_id, safe='')}",
            token=await connection.access_token(), errors=graph_error,
            json={"expirationDateTime": _expiry(request.ttl_seconds)})
    except ProviderError as exc:
        if exc.status != 404:
            raise
        # Graph no longer knows it (removed, or expired there): a new one instead.
        return await subscribe(ctx, connection, request)
    return _subscribed(response.json(), subscription.resource)


async def unsubscribe(ctx: ProviderContext, connection: Connection, subscription: Subscription) -> None:
    try:
        await ctx.call("DELETE", f"{ctx.endpoint('graph')}/subscriptions/{quote(subscription.provider_id, safe='')}",
                       token=await connection.access_token(), errors=graph_error)
    except ProviderError as exc:
        if exc.status != 404:  # one Graph no longer knows is removed already
            raise


def _same(given: Any, stored: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), stored.encode())


def _key(*parts: Any) -> str:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]
    return f"microsoft:{digest}"


async def _handshake(request: InboundRequest, token: str, subscriptions: SubscriptionLookup) -> InboundAnswer:
    if len(token) > MAX_TOKEN:
        return InboundAnswer.refused(400, "a validation token too long to be Graph's")
    signals: tuple[Signal, ...] = ()
    named = request.tail.split("/")[0]
    sub = await subscriptions.by_provider_id(named) if named else None
    if sub is not None and sub.state == "pending":
        # Graph validates the address of a subscription it is creating: once it answers,
        # the subscription exists. Only a pending one is looked up by the hub's id.
        signals = (Signal(kind="confirmed", subscription=sub.id, key=f"microsoft:validated:{sub.id}",
                          detail="validation"),)
    return InboundAnswer(status=200, body=token.encode(), media_type="text/plain", signals=signals)


def _signal(item: dict[str, Any], sub: Subscription) -> Signal | None:
    event = item.get("lifecycleEvent")
    if event is not None:
        kind = LIFECYCLE.get(event)
        if kind is None:
            return None
        return Signal(kind=kind, subscription=sub.id, detail=str(event),
                      key=_key(sub.provider_id, event, item.get("subscriptionExpirationDateTime"), item.get("id")))
    change = item.get("changeType")
    data = item.get("resourceData") if isinstance(item.get("resourceData"), dict) else {}
    if change not in ("created", "updated", "deleted"):
        return None
    return Signal(kind="changed", subscription=sub.id, detail=change,
                  key=_key(sub.provider_id, change, data.get("id") or item.get("resource"), data.get("@odata.etag"),
                           item.get("id")))


async def receive(request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    token = request.query.get("validationToken")
    if token is not None:
        return await _handshake(request, token, subscriptions)
    try:
        body = json.loads(request.body)
    except ValueError:
        return InboundAnswer.refused(400, "not JSON")
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        return InboundAnswer.refused(400, "not a Graph notification: no value list")
    signals: list[Signal] = []
    unknown = forged = 0
    seen: dict[str, Subscription | None] = {}
    for item in items:
        sid = item.get("subscriptionId") if isinstance(item, dict) else None
        if not isinstance(sid, str) or not sid:
            forged += 1
            continue
        if sid not in seen:
            seen[sid] = await subscriptions.by_provider_id(sid)
        sub = seen[sid]
        if sub is None:
            unknown += 1
            continue
        if not _same(item.get("clientState"), sub.secret):
            forged += 1
            continue
        signal = _signal(item, sub)
        if signal is not None:
            signals.append(signal)
    if unknown or forged:
        log.warning("Graph notification: %d of %d items refused (%d unknown subscription, %d clientState or shape "
                    "wrong)", unknown + forged, len(items), unknown, forged)
    if not signals:
        if forged:
            return InboundAnswer.refused(401, f"{forged} item(s) without the subscription's clientState")
        if unknown:
            return InboundAnswer.refused(404, f"{unknown} item(s) for an unknown subscription")
        return InboundAnswer(status=202)  # only kinds the hub has nothing to do for
    # 202: what Graph asks for (anything else in 2xx is taken too); the work comes after.
    return InboundAnswer(status=202, signals=tuple(signals))
