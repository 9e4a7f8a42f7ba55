"""Request and response bodies of ``/api/integrations`` (spec: "Gestion des intégrations")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from ..wire import Wire
from ..types import ApiLimits, SyncDirection, UserInfo


class NotificationPrefs(Wire, forbid_unknown_fields=True):
    """Which sync outcomes the integration reports (spec: PUT /settings ``notifications``)."""

    sync_errors: bool = True
    sync_success: bool = False
    weekly_report: bool = False


class NotificationPrefsIn(Wire, forbid_unknown_fields=True):
    """A change of :class:`NotificationPrefs`: the switches given, the others kept."""

    sync_errors: bool | msgspec.UnsetType = msgspec.UNSET
    sync_success: bool | msgspec.UnsetType = msgspec.UNSET
    weekly_report: bool | msgspec.UnsetType = msgspec.UNSET


class Person(Wire):
    id: str
    name: str | None = None
    email: str | None = None


class LastError(Wire):
    code: str
    message: str | None
    at: datetime | None


class DeliveryCounts(Wire, kw_only=True):
    """The integration's outbound messages (webhooks, chat posts) and their attempts."""
    messages: int = 0
    delivered: int = 0
    pending: int = 0
    failed: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    success_rate: float | None = None
    average_duration_ms: float | None = None


_UNSET = msgspec.UNSET


class IntegrationStatistics(Wire, kw_only=True):
    """The spec's figures per kind: a provider that syncs (calendars, Zoom) has the
    first four, a messaging one the next three, one that delivers ``deliveries``."""
    events_synced: int | msgspec.UnsetType = _UNSET
    last_sync_duration: str | None | msgspec.UnsetType = _UNSET
    error_count: int | msgspec.UnsetType = _UNSET
    success_rate: float | None | msgspec.UnsetType = _UNSET
    messages_sent: int | msgspec.UnsetType = _UNSET
    channels_connected: int | msgspec.UnsetType = _UNSET
    active_users: int | msgspec.UnsetType = _UNSET
    deliveries: DeliveryCounts | msgspec.UnsetType = _UNSET


class PushStatus(Wire, kw_only=True):
    """How the integration hears of changes at its provider (docs/push.md): ``push``
    (the provider notifies the hub; only the safety poll runs, ``until`` the
    subscription's expiry, renewed before it) or ``polling`` (every syncInterval;
    ``reason`` says why: no public address, a subscription failing, expired or not
    confirmed yet, a provider without notifications)."""

    mode: Literal["push", "polling"]
    state: Literal["active", "pending", "failing", "expired", "none", "unavailable"]
    until: datetime | None = None
    reason: str | None = None
    last_notification_at: datetime | None = None
    # With push active: how often the safety poll still syncs (seconds).
    safety_poll_seconds: int | None = None


class IntegrationOut(Wire):
    id: str
    provider: str
    type: str
    name: str
    status: Literal["connected", "disconnected", "error"]
    connected_at: datetime
    last_sync: datetime | None
    last_activity: datetime | None
    disconnected_at: datetime | None
    settings: dict[str, Any]
    notifications: NotificationPrefs
    scopes: list[str]
    permissions: list[str]
    statistics: IntegrationStatistics
    connected_by: Person
    account: UserInfo
    last_error: LastError | None
    # When the next automatic sync is due (None: the integration does not auto-sync).
    next_sync: datetime | None = None
    # Push or polling, and why (None: the integration does not sync).
    push: PushStatus | None = None


class IntegrationList(Wire, kw_only=True):
    success: bool = True
    data: list[IntegrationOut]


class IntegrationResponse(Wire, kw_only=True):
    success: bool = True
    data: IntegrationOut


# An absolute http(s) URL without a fragment, spaces or control characters: what a
# redirect URI may be, checked by this pattern alone (rules.validate_redirect_uri).
REDIRECT_URI = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20\x7f]+[^#\x00-\x20\x7f]*$"


class ConnectIn(Wire, forbid_unknown_fields=True):
    scopes: Annotated[list[str], msgspec.Meta(min_length=1)] | None = None  # None: the provider's defaults
    settings: dict[str, Any] | None = None
    notifications: NotificationPrefsIn | None = None
    redirect_uri: Annotated[str, msgspec.Meta(pattern=REDIRECT_URI, max_length=2048)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None  # the column's width


class ConnectOut(Wire, omit_defaults=True):
    provider: str
    scopes: list[str]
    auth_url: str | None = None
    state: str | None = None
    expires_at: datetime | None = None
    # Providers without OAuth (outbound webhooks) connect at once:
    integration_id: str | None = None
    status: str | None = None
    # Providers that sign their deliveries (webhooks): the secret, shown this once.
    signing_secret: str | None = None
    connected_at: datetime | None = None


class ConnectResponse(Wire, kw_only=True):
    success: bool = True
    data: ConnectOut


class CallbackIn(Wire, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=4096, pattern=r"\S")]  # not blank
    state: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class InitialSync(Wire, omit_defaults=True):
    """The first sync, started as the connection is made (``scheduled``, with its id),
    or ``skipped`` with the reason, for a provider that does not sync."""
    status: Literal["scheduled", "skipped"]
    estimated_duration: str | None = None
    sync_id: str | None = None
    reason: str | None = None


class CallbackOut(Wire):
    integration_id: str
    provider: str
    status: str
    connected_at: datetime
    permissions: list[str]
    user_info: UserInfo
    initial_sync: InitialSync


class CallbackResponse(Wire, kw_only=True):
    success: bool = True
    data: CallbackOut


class SettingsIn(Wire, forbid_unknown_fields=True):
    """A change of settings: fields left out are kept. ``settings`` is checked against
    the provider's own settings (its schema is named after its slug); the top-level
    fields are the spec's shorthands for the settings of the same name."""
    sync_direction: SyncDirection | msgspec.UnsetType = msgspec.UNSET
    auto_sync: bool | msgspec.UnsetType = msgspec.UNSET
    sync_interval: int | msgspec.UnsetType = msgspec.UNSET  # the operator's bounds, in the OpenAPI
    settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    notifications: NotificationPrefsIn | msgspec.UnsetType = msgspec.UNSET
    webhooks: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET  # outbound webhooks: one endpoint per event


class CleanupStatus(Wire):
    events_removed: int
    webhooks_disabled: int
    tokens_revoked: bool
    notes: list[str]


class DisconnectOut(Wire):
    integration_id: str
    status: str
    disconnected_at: datetime
    cleanup_status: CleanupStatus


class DisconnectResponse(Wire, kw_only=True):
    success: bool = True
    data: DisconnectOut


class TestIn(Wire, forbid_unknown_fields=True):
    # Also post a test message to each channel the integration names (notifying plugins).
    send_test_message: bool = False


class TestChannelOut(Wire, omit_defaults=True):
    target: str  # the channel, as the message log names it
    status: Literal["delivered", "failed", "pending"]
    message_id: str
    error: str | None = None


class TestMessageOut(Wire):
    """What became of the test notice: one entry per channel (each is in the messages log)."""

    channels: list[TestChannelOut]


class TestOut(Wire, kw_only=True, omit_defaults=True):
    connection_status: Literal["healthy", "degraded", "unhealthy", "disconnected"]
    response_time: str | None
    permissions: dict[str, bool]
    api_limits: ApiLimits | None
    last_error: LastError | None
    recommendations: list[str]
    test_message: TestMessageOut | None = None  # only when the body asked for one
    push: PushStatus | None = None  # an integration that syncs: push or polling, and why


class TestResponse(Wire, kw_only=True):
    success: bool = True
    data: TestOut


class ScopeOut(Wire):
    name: str
    permissions: list[str]
    provider_scopes: list[str]
    description: str


class ProviderOut(Wire, omit_defaults=True):
    slug: str
    status: Literal["loaded", "disabled", "broken"]
    version: str | None = None
    distribution: str | None = None
    name: str | None = None
    type: str | None = None
    description: str | None = None
    capabilities: list[str] | None = None
    hooks: list[str] | None = None
    scopes: list[ScopeOut] | None = None
    default_scopes: list[str] | None = None
    settings_schema: dict[str, Any] | None = None
    sandbox: bool | None = None
    error: str | None = None


class ProviderList(Wire, kw_only=True):
    success: bool = True
    data: list[ProviderOut]
