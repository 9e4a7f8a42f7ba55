"""Request and response bodies of ``/api/integrations`` (spec: "Gestion des intégrations")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from ..wire import Wire
from ..types import ApiLimits, UserInfo


class NotificationPrefs(Wire, forbid_unknown_fields=True):
    """Which sync outcomes the integration reports (spec: PUT /settings ``notifications``)."""

    sync_errors: bool = True
    sync_success: bool = False
    weekly_report: bool = False


class Person(Wire):
    id: str
    name: str | None = None
    email: str | None = None


class LastError(Wire):
    code: str
    message: str | None
    at: datetime | None


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
    statistics: dict[str, Any]
    connected_by: Person
    account: UserInfo
    last_error: LastError | None
    # When the next automatic sync is due (None: the integration does not auto-sync).
    next_sync: datetime | None = None


class IntegrationList(Wire, kw_only=True):
    success: bool = True
    data: list[IntegrationOut]


class IntegrationResponse(Wire, kw_only=True):
    success: bool = True
    data: IntegrationOut


class ConnectIn(Wire, forbid_unknown_fields=True):
    scopes: list[str] | None = None
    settings: dict[str, Any] | None = None
    notifications: dict[str, Any] | None = None
    redirect_uri: str | None = None
    name: str | None = None


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
    code: str
    state: str


class InitialSync(Wire, omit_defaults=True):
    status: str
    estimated_duration: str | None = None
    sync_id: str | None = None


class CallbackOut(Wire):
    integration_id: str
    provider: str
    status: str
    connected_at: datetime
    permissions: list[str]
    user_info: UserInfo
    initial_sync: InitialSync | None


class CallbackResponse(Wire, kw_only=True):
    success: bool = True
    data: CallbackOut


class SettingsIn(Wire, forbid_unknown_fields=True):
    sync_direction: Any = msgspec.UNSET
    auto_sync: Any = msgspec.UNSET
    sync_interval: Any = msgspec.UNSET
    settings: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    notifications: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


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
