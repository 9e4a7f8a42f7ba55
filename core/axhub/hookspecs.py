"""The hooks a provider plugin implements. Every hook is documented in docs/plugins.md.

A plugin is a module registered under the entry-point group ``axhub`` whose name is the
provider's slug. It implements ``provider_info`` and the hooks it supports with
``@axhub.hookimpl``; hooks may be plain or ``async def`` functions.

``subscribe``, ``renew``, ``unsubscribe`` and ``receive`` are the push capability
(docs/push.md): a plugin that implements ``subscribe`` and ``receive`` has its
integrations notified of changes instead of polled; one that does not keeps polling.

All hooks but ``provider_info`` and ``notify`` belong to one provider: the core calls
only the implementation registered under the integration's slug (never a broadcast, and
never pluggy's ``firstresult``, which would take a coroutine for an answer). ``notify``
is a true broadcast: every plugin hears every notification and decides what it delivers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from .inbound import InboundAnswer, InboundRequest, SubscribeRequest, Subscribed, Subscription, SubscriptionLookup
from .provider import ProviderContext
from .types import (
    AuthorizationRequest,
    CleanupReport,
    Connection,
    ConnectionReport,
    Credentials,
    Delivery,
    DeliveryOutcome,
    Grant,
    Notification,
    ProviderInfo,
)

if TYPE_CHECKING:  # the sync engine's adapter protocol, named here for type checkers only:
    # the engine sits in a domain above the plugin layer, and imports nothing from here
    from .sync.adapter import CalendarAdapter

hookspec = pluggy.HookspecMarker("axhub")


@hookspec
def provider_info() -> ProviderInfo:
    """Describe the provider: slug, display name, type, scopes and the permissions they
    grant, the settings type, capabilities, endpoints and sandbox. Called once at load;
    must not do I/O."""


@hookspec
def authorize(ctx: ProviderContext, request: AuthorizationRequest) -> str:
    """Return the URL of the provider's consent page for ``request`` (its ``state``,
    ``redirect_uri``, ``provider_scopes`` and, where the provider supports PKCE,
    ``code_challenge``). The core has already stored the state; do no I/O here."""


@hookspec
async def exchange_code(ctx: ProviderContext, request: AuthorizationRequest, code: str) -> Grant:
    """Trade the authorization ``code`` for credentials at the provider's token endpoint
    and look up who granted them. Raise :class:`axhub.OAuthError` with the provider's
    reason when the provider refuses."""


@hookspec
async def refresh(ctx: ProviderContext, credentials: Credentials) -> Credentials:
    """Return new credentials for expiring ``credentials`` (keep the new refresh token
    when the provider rotates it). Raise :class:`axhub.InvalidCredentials` when the
    provider says the grant is dead (``invalid_grant`` and the like). The core calls it
    once per credential even with many callers and several processes."""


@hookspec
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    """Make a cheap authenticated call at the provider and report what it says: granted
    scopes, rate-limit headers as ``api_limits``, recommendations. Raise a
    :class:`axhub.ProviderError` when the call fails; the core times the call."""


@hookspec
async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    """Undo what the integration set up at the provider (revoke tokens where the provider
    can, remove what the hub created) and say what was done. The core forgets the
    credentials afterwards whatever happens here."""


@hookspec
def sync(ctx: ProviderContext, connection: Connection) -> CalendarAdapter:
    """Return the calendar adapter that the core's sync engine drives for ``connection``:
    list changes since a cursor, write batches, map fields with the integration's
    settings. The engine does the rest (links, cursors, conflicts, history). Meeting
    providers return an export-only ``axhub.sync.MeetingAdapter`` (meetings follow
    events, attendance comes back through its ``follow_up`` step)."""


@hookspec
async def notify(ctx: ProviderContext, notification: Notification) -> None:
    """Broadcast: something happened in an organisation (an event created, a reminder
    due, a sync failed…). Deliver it through this provider if the organisation's
    integrations ask for it; ignore it otherwise."""


@hookspec
async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
    """Make one attempt at a stored outbound message (what ``notify`` put in
    ``ctx.deliveries``) and say how it went: delivered, retry (after ``retry_after``
    seconds if the receiver said), gone, or failed for good. Send ``delivery.payload``
    as stored. The core times the attempt, logs it and applies the retry policy."""


@hookspec
async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    """Open a change subscription at the provider for what ``connection`` syncs (Google:
    ``events.watch`` on the synced calendar), with the id, secret and address in
    ``request``, and say what the provider answered. The core stored the subscription
    (pending, its secret sealed) before calling, so a confirmation that arrives before
    this returns is recognised. Raise a :class:`axhub.ProviderError` when the provider
    refuses; the integration keeps polling."""


@hookspec
async def renew(ctx: ProviderContext, connection: Connection, subscription: Subscription,
                request: SubscribeRequest) -> Subscribed:
    """Extend ``subscription`` before it expires. A provider that renews in place (Graph's
    ``PATCH``) keeps its ids; one that cannot (Google) opens a new subscription with
    ``request``'s id and secret, then stops the old one. The core calls it once per
    renewal across processes, ahead of the expiry."""


@hookspec
async def unsubscribe(ctx: ProviderContext, connection: Connection, subscription: Subscription) -> None:
    """Remove ``subscription`` at the provider (Google: ``channels.stop``): the
    integration is being disconnected, or the subscription was replaced. A provider
    that no longer knows it is not an error."""


@hookspec
async def receive(ctx: ProviderContext, request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    """Verify an inbound request to ``/hooks/{slug}`` (the provider's own proof: a
    channel token, a client state, a signature; compare secrets in constant time) and
    turn it into signals and an answer (a handshake's echo, or an empty 200). Refuse a
    forged or stale request with ``InboundAnswer.refused(401, …)`` and one naming an
    unknown subscription with 404: the core then stores nothing. No I/O to the
    provider: the core answers at once and works from the stored signals."""
