"""The data that crosses the hook boundary: what plugins declare, receive and return.

These are plain msgspec Structs and dataclasses with no behaviour of the core's in them,
so that a plugin depends on a small, stable surface. Field names are snake_case here; the
API turns them camelCase on the wire.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

import msgspec

if TYPE_CHECKING:
    from .provider import ProviderContext

ProviderType = Literal["calendar", "communication", "video", "storage", "webhook"]
PROVIDER_TYPES: tuple[str, ...] = ("calendar", "communication", "video", "storage", "webhook")

# What a plugin can do; the core and `axhub plugins` show these.
Capability = Literal[
    "oauth", "pkce", "refresh", "revoke", "calendar_sync", "notify", "meetings", "attendance", "signing", "push"
]


class Scope(msgspec.Struct, frozen=True):
    """One of the API's abstract scopes (``calendar.read``) and what it means at the provider.

    ``provider_scopes`` are requested at the provider when the caller asks for ``name``;
    ``permissions`` are granted to the integration once every one of ``provider_scopes``
    is in the scopes the provider actually granted.
    """

    name: str
    provider_scopes: tuple[str, ...]
    permissions: tuple[str, ...]
    description: str = ""


class Settings(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=False):
    """Base of every provider's settings type: camelCase on the wire, unknown fields refused.

    A provider subclasses it; ``__post_init__`` may raise :class:`axhub.SettingsError`
    naming the field for checks a type cannot express.
    """


SyncDirection = Literal["bidirectional", "attendance_to_external", "external_to_attendance"]


class SyncSettings(Settings):
    """Settings shared by every provider that syncs on a schedule (calendars)."""

    sync_direction: SyncDirection = "bidirectional"
    auto_sync: bool = True
    sync_interval: int = 300

    def __post_init__(self) -> None:
        from .errors import SettingsError

        # The operator's bounds (AXHUB_SYNC_INTERVAL_MIN/MAX, 60 and 86400 by default) are
        # checked by the hub when settings are saved; a type only knows it must be positive.
        if self.sync_interval < 1:
            raise SettingsError("syncInterval", "must be a positive number of seconds")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A provider URL, and where it lives in the plugin's sandbox (a path under it)."""

    url: str
    sandbox_path: str


@dataclasses.dataclass(frozen=True)
class OAuthProfile:
    """How a provider speaks OAuth 2.0.

    ``client_auth``: ``client_secret_post`` (form fields) or ``client_secret_basic``
    (HTTP Basic, as Zoom wants). ``pkce``: send an S256 code challenge. ``dead_grant``:
    error codes that mean the refresh token is gone for good. ``fix_token_response``
    rewrites a non-standard token response (status, body) into RFC 6749's shape before
    authlib reads it.

    Declared as ``ProviderInfo(oauth2=OAuthProfile(...))``, it also gives the plugin the
    standard ``authorize``, ``exchange_code``, ``refresh``, ``test_connection`` and
    ``disconnect`` hooks (``axhub.oauth_hooks``) for every one it does not implement.
    """

    authorize_endpoint: str = "authorize"
    token_endpoint: str = "token"
    revoke_endpoint: str | None = None
    client_auth: str = "client_secret_post"
    scope_separator: str = " "
    pkce: bool = True
    authorize_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    dead_grant: frozenset[str] = frozenset({"invalid_grant"})
    fix_token_response: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None
    # The endpoint (a name in ``ProviderInfo.endpoints``) that answers, for the access
    # token, the account that granted it; the standard ``exchange_code`` reads the
    # granting user from it and the standard ``test_connection`` calls it.
    userinfo_endpoint: str | None = None
    # Where in that answer the account's id, email and name are ("a.b" for nested keys).
    user_fields: tuple[str, str, str] = ("id", "email", "name")



@dataclasses.dataclass(frozen=True)
class ProviderInfo:
    """What a plugin tells the core about its provider, without calling it.

    ``endpoints`` are named URLs (``authorize``, ``token``, ``api``…); the core resolves
    each to the real URL, the sandbox, or an operator's override, and hands the result
    to the hooks as ``ctx.endpoint(name)``. ``sandbox`` builds the provider's sandbox
    ASGI app (a callable, or ``"module:function"`` imported only when sandboxes run).
    ``sandbox_client`` is the client id/secret the sandbox accepts.
    """

    slug: str
    name: str
    type: ProviderType
    description: str
    scopes: tuple[Scope, ...] = ()
    default_scopes: tuple[str, ...] = ()
    settings_type: type[Settings] = Settings
    capabilities: tuple[str, ...] = ()
    endpoints: dict[str, Endpoint] = dataclasses.field(default_factory=dict)
    sandbox: Callable[[], Any] | str | None = None
    sandbox_client: tuple[str, str] | None = None
    docs_url: str | None = None
    # Paths of settings kept sealed by the vault and masked in answers (dotted keys,
    # ``*`` for any key), e.g. ``("webhooks.*.headers.*",)``.
    secret_settings: tuple[str, ...] = ()
    # The provider's documented daily quota of calls (per integration), when it sends no
    # rate-limit headers: apiLimits is then computed from it and the hub's own count.
    daily_quota: int | None = None
    # How the provider speaks standard OAuth 2.0; with it the core implements every
    # OAuth hook the plugin leaves out (see OAuthProfile).
    oauth2: OAuthProfile | None = None

    @property
    def oauth(self) -> bool:
        return "oauth" in self.capabilities

    def scope(self, name: str) -> Scope | None:
        """The declared scope called ``name`` (the API's name, e.g. ``calendar.read``), or
        None."""
        return next((s for s in self.scopes if s.name == name), None)


class UserInfo(msgspec.Struct, omit_defaults=True):
    """The provider account that granted access (shown as ``userInfo``)."""

    id: str | None = None
    email: str | None = None
    name: str | None = None
    avatar: str | None = None


class Credentials(msgspec.Struct, omit_defaults=True):
    """A provider grant. Lives only encrypted in the vault; never leaves the core's API.

    ``extra`` holds provider secrets that come with the grant (e.g. Slack's incoming
    webhook URL, bot user id) and are as sensitive as the token.
    """

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    token_type: str = "Bearer"
    scopes: tuple[str, ...] = ()
    extra: dict[str, Any] = {}


class Grant(msgspec.Struct):
    """What ``exchange_code`` returns: the credentials and who granted them."""

    credentials: Credentials
    user: UserInfo
    granted_scopes: tuple[str, ...] = ()


class AuthorizationRequest(msgspec.Struct, frozen=True):
    """A pending connection, as ``authorize`` and ``exchange_code`` see it."""

    state: str
    redirect_uri: str
    provider_scopes: tuple[str, ...]
    code_verifier: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class ApiLimits(msgspec.Struct, rename="camel"):
    """``apiLimits`` of ``POST /:id/test``: the spec's ``remaining``, ``resetAt`` and
    ``dailyLimit`` always present (null where neither the provider's headers nor its
    documented quota say), and beside them the window's ``limit``, its ``category``
    and the hub's own count of today's calls (``callsToday``)."""

    remaining: int | None = None
    reset_at: datetime | None = None
    daily_limit: int | None = None
    limit: int | None = None
    category: str | None = None
    calls_today: int | None = None


class ConnectionReport(msgspec.Struct):
    """What ``test_connection`` learned by calling the provider.

    ``granted_scopes`` is what the provider says now, when it says it (else the core uses
    what was granted at connect). ``recommendations`` are added to the core's own.
    """

    granted_scopes: tuple[str, ...] | None = None
    api_limits: ApiLimits | None = None
    account: UserInfo | None = None
    recommendations: tuple[str, ...] = ()


class CleanupReport(msgspec.Struct, omit_defaults=True):
    """What ``disconnect`` did at the provider (``cleanupStatus`` in the API)."""

    tokens_revoked: bool = False
    events_removed: int = 0
    webhooks_disabled: int = 0
    notes: tuple[str, ...] = ()


@dataclasses.dataclass
class Connection:
    """An integration as a plugin sees it: its settings, its account, its credentials.

    ``credentials()`` returns a fresh (refreshed if due) grant from the vault; plugins
    never store tokens themselves.
    """

    id: str
    org_id: str
    provider: str
    settings: Any
    granted_scopes: tuple[str, ...]
    account: UserInfo
    _credentials: Callable[[], Any]

    async def credentials(self) -> Credentials:
        """Fresh credentials from the vault: refreshed first when due (once per grant, however
        many callers); raises ``InvalidCredentials`` when the grant is dead."""
        return await self._credentials()

    async def access_token(self) -> str:
        """The access token of :meth:`credentials`."""
        return (await self.credentials()).access_token


@dataclasses.dataclass(frozen=True)
class Policy:
    """How often a message is retried: ``max_retries`` after the first attempt, waits
    growing by ``backoff_multiplier`` (with jitter) from the operator's base delay."""

    max_retries: int = 5
    backoff_multiplier: float = 2.0


class Notification(msgspec.Struct, kw_only=True):
    """A broadcast to every notifying plugin (``notify``): an event in an organisation.

    ``id`` is stable: a notification broadcast again after a crash carries the same one,
    so a plugin that stores what it sends (``ctx.deliveries.enqueue``) keys on it and
    never sends twice."""

    kind: str
    org_id: str
    data: dict[str, Any] = {}
    dedupe_key: str | None = None
    id: str = ""
    at: datetime | None = None


class Delivery(msgspec.Struct, kw_only=True, frozen=True):
    """One attempt to make at a stored message (``deliver``): the bytes to send as they
    were stored, and the stable message ``id`` the receiver dedupes on."""

    id: str
    integration_id: str
    target: str
    kind: str
    payload: bytes
    attempt: int
    created_at: datetime
    at: datetime  # the attempt's time, on the hub's clock (sign with it)


DeliveryStatus = Literal["delivered", "retry", "gone", "failed"]


class DeliveryOutcome(msgspec.Struct, kw_only=True):
    """What one ``deliver`` attempt came to. ``retry``: try again later (after
    ``retry_after`` seconds if the receiver said, else the retry policy's backoff);
    ``gone``: the destination no longer exists, disable it; ``failed``: a permanent
    failure, do not retry. ``excerpt`` is the start of the receiver's answer."""

    status: DeliveryStatus
    http_status: int | None = None
    retry_after: float | None = None
    excerpt: str | None = None
    error: str | None = None
    # The spec's code for a failure, recorded as the integration's lastError
    # (WEBHOOK_FAILED when unsaid); INVALID_CREDENTIALS also puts it in error.
    code: str | None = None


__all__ = [
    "ApiLimits",
    "AuthorizationRequest",
    "CleanupReport",
    "Connection",
    "ConnectionReport",
    "Credentials",
    "Delivery",
    "DeliveryOutcome",
    "Endpoint",
    "Grant",
    "Notification",
    "PROVIDER_TYPES",
    "ProviderContext",
    "ProviderInfo",
    "ProviderType",
    "Scope",
    "Settings",
    "SyncSettings",
    "UserInfo",
]
