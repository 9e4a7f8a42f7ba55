"""What crosses the hook boundary for push (change notifications from a provider): the
subscription the core asks a plugin to open, the one it hands back to renew or remove,
an inbound HTTP request as the receiving route read it, and the verified signals and
answer the plugin turns it into. See docs/push.md.

Plain structs, like :mod:`axhub.types`: the core owns the table, the secrets (sealed by
the vault), the schedule and the work; a plugin only speaks its provider's protocol.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from typing import Literal, Protocol

import msgspec

# What a verified notification means for the hub:
# changed: the watched resource changed (an incremental sync of the integration);
# confirmed: the provider confirmed a new subscription (Google's ``sync`` message);
# revoked: the grant is gone at the provider (the integration is disconnected there);
# reauthorize: the subscription needs renewing now (Graph's reauthorizationRequired);
# removed: the provider dropped the subscription (it is recreated);
# ended: a meeting of the integration ended (Zoom's meeting.ended; ``detail`` is the
# meeting's id): its attendance is pulled at once, by the same run a schedule starts.
SignalKind = Literal["changed", "confirmed", "revoked", "reauthorize", "removed", "ended"]
SIGNAL_KINDS: tuple[str, ...] = ("changed", "confirmed", "revoked", "reauthorize", "removed", "ended")


class SubscribeRequest(msgspec.Struct, kw_only=True, frozen=True):
    """A subscription to open: the id and the secret the core made for it (a Google
    channel's id and token), the address notifications go to, and the lifetime the
    hub would like (the provider may shorten it)."""

    id: str
    secret: str
    address: str
    ttl_seconds: int


class Subscribed(msgspec.Struct, kw_only=True, frozen=True):
    """What the provider answered to a subscribe or a renewal: its own ids of the
    subscription (``provider_id``, and ``resource_id`` where it has one), what is
    watched (a calendar id) and when it expires (None: it does not)."""

    provider_id: str
    resource_id: str | None = None
    resource: str = ""
    expires_at: datetime | None = None


class Subscription(msgspec.Struct, kw_only=True, frozen=True):
    """A stored subscription, as the core hands it to a plugin (``secret`` opened)."""

    id: str
    integration_id: str
    org_id: str
    provider: str
    provider_id: str
    resource_id: str | None
    resource: str
    secret: str
    expires_at: datetime | None
    state: str


class InboundRequest(msgspec.Struct, kw_only=True, frozen=True):
    """A request to ``/hooks/{slug}/{tail}``: headers with lower-case names, the query,
    and the raw body (already held to the route's size limit)."""

    method: str
    tail: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


class Signal(msgspec.Struct, kw_only=True, frozen=True):
    """One verified fact from a notification. ``subscription`` is the core's id of the
    subscription it came through; ``key`` identifies the notification for deduplication
    (a Google message number): the same key twice is stored once and worked once."""

    kind: SignalKind
    subscription: str
    key: str
    detail: str = ""


class InboundAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """What the receiving route answers, and the signals it stores before answering.
    A status of 400 or more refuses the request: nothing is stored. ``body`` is sent as
    ``media_type`` (a handshake's echo); empty by default."""

    status: int = 200
    body: bytes = b""
    media_type: str = "text/plain"
    signals: tuple[Signal, ...] = ()
    reason: str = ""

    @classmethod
    def refused(cls, status: int, reason: str) -> "InboundAnswer":
        """401 (forged, unsigned, stale) or 404 (unknown subscription); ``reason`` is
        logged by the core, never sent back."""
        return cls(status=status, reason=reason)


class SubscriptionLookup(Protocol):
    """How ``receive`` finds the subscription a request names, among this provider's."""

    async def by_provider_id(self, provider_id: str) -> Subscription | None:
        """The live subscription the provider calls ``provider_id`` (a Google channel
        id), its secret opened; None when there is none (answer 404)."""
        ...

    async def by_resource(self, resource: str) -> list[Subscription]:
        """The live subscriptions that watch ``resource`` (``Subscribed.resource``), for
        a provider that notifies one app-level address for every account (Zoom's
        account id, Slack's team id) and proves it with the operator's app secret
        rather than a per-subscription one. Empty when there are none (answer 404)."""
        ...



def v0_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` and the hex HMAC-SHA256, under ``secret``, of ``v0:{timestamp}:{body}``:
    how Slack (``X-Slack-Signature``) and Zoom (``x-zm-signature``) sign what they send."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def v0_refusal(secret: str, request: InboundRequest, signature_header: str, timestamp_header: str,
               window: int) -> str | None:
    """Why ``request`` is not signed by the holder of ``secret`` with :func:`v0_signature`
    within ``window`` seconds of now (unsigned, not a Unix time, stale, not matching),
    or None. The signature is compared in constant time."""
    signature = request.headers.get(signature_header.lower())
    stamp = request.headers.get(timestamp_header.lower())
    if not signature or not stamp:
        return f"unsigned: {signature_header} or {timestamp_header} missing"
    if not stamp.isdigit() or len(stamp) > 12:
        return f"{timestamp_header} is not a Unix time"
    if abs(time.time() - int(stamp)) > window:
        return f"stale: {timestamp_header} more than {window} s from now"
    if not hmac.compare_digest(signature.encode(), v0_signature(secret, stamp, request.body).encode()):
        return f"{signature_header} does not match"
    return None
