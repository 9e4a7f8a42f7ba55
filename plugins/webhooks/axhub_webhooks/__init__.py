"""Outbound webhooks: a provider with no OAuth, connected with its configuration."""

from __future__ import annotations

from axhub import (
    Blocked,
    Connection,
    ConnectionReport,
    Delivery,
    DeliveryOutcome,
    Notification,
    ProviderContext,
    ProviderError,
    ProviderInfo,
    Scope,
    hookimpl,
)

from . import delivery as _delivery
from . import notify as _notify
from .settings import WebhooksSettings

__version__ = "0.1.0"

INFO = ProviderInfo(
    slug="webhooks",
    name="Outbound webhooks",
    type="webhook",
    description="Signed HTTP deliveries of Attendance-X events to your own endpoints.",
    scopes=(Scope("webhooks.send", (), ("send_webhooks",), "Deliver events to the configured endpoints"),),
    default_scopes=("webhooks.send",),
    settings_type=WebhooksSettings,
    capabilities=("notify", "signing"),
    # Receivers' credentials (e.g. Authorization) are sealed by the vault, shown masked.
    secret_settings=("webhooks.*.headers.*",),
)


@hookimpl
def provider_info() -> ProviderInfo:
    return INFO


@hookimpl
async def notify(ctx: ProviderContext, notification: Notification) -> None:
    """Store a signed message for each endpoint that asks for this notification."""
    await _notify.notify(ctx, notification)


@hookimpl
async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
    """POST the stored body, signed (Standard Webhooks), to the endpoint's URL."""
    return await _delivery.deliver(ctx, connection, delivery)


@hookimpl
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    """Resolve every enabled endpoint and check it against the SSRF guard."""
    endpoints = {event: e for event, e in connection.settings.webhooks.items() if e.enabled}
    if not endpoints:
        return ConnectionReport(recommendations=("No webhook endpoint is enabled: add one in settings.webhooks",))
    notes = []
    for event, endpoint in endpoints.items():
        try:
            addresses = await ctx.guard.resolve(endpoint.url)
        except Blocked as exc:
            raise ProviderError(f"webhooks.{event}: {exc.reason}", reason="destination_refused", code="WEBHOOK_FAILED") from None
        notes.append(f"{event}: {endpoint.url} resolves to {', '.join(addresses)}")
    return ConnectionReport(recommendations=tuple(notes))
