"""axhub: the Attendance-X integration hub.

What a plugin author imports lives here: ``hookimpl`` to mark hook implementations, the
types that cross the hook boundary, the errors a plugin raises, and the OAuth helpers.
"""

from __future__ import annotations

import pluggy

from .version import __version__

hookimpl = pluggy.HookimplMarker("axhub")

from .errors import (  # noqa: E402
    ConfigurationError,
    InvalidCredentials,
    OAuthError,
    ProviderError,
    ProviderPermissionDenied,
    QuotaExceeded,
    RateLimited,
    SettingsError,
)
from .provider import ProviderContext  # noqa: E402
from .inbound import (  # noqa: E402
    InboundAnswer,
    InboundRequest,
    Signal,
    SubscribeRequest,
    Subscribed,
    Subscription,
    SubscriptionLookup,
)
from . import oauth, oauth_hooks, templates  # noqa: E402
from .chat import Chat  # noqa: E402
from .validation import TimeZone  # noqa: E402
from .types import (  # noqa: E402
    ApiLimits,
    AuthorizationRequest,
    CleanupReport,
    Connection,
    ConnectionReport,
    Credentials,
    Delivery,
    DeliveryOutcome,
    Endpoint,
    Grant,
    Notification,
    OAuthProfile,
    ProviderInfo,
    Scope,
    Settings,
    SyncSettings,
    UserInfo,
)

__all__ = [
    "ApiLimits",
    "Chat",
    "AuthorizationRequest",
    "CleanupReport",
    "Connection",
    "ConfigurationError",
    "ConnectionReport",
    "Credentials",
    "Delivery",
    "DeliveryOutcome",
    "Endpoint",
    "Grant",
    "InboundAnswer",
    "InboundRequest",
    "InvalidCredentials",
    "Notification",
    "OAuthError",
    "OAuthProfile",
    "ProviderContext",
    "ProviderError",
    "ProviderInfo",
    "ProviderPermissionDenied",
    "QuotaExceeded",
    "RateLimited",
    "Scope",
    "Settings",
    "SettingsError",
    "Signal",
    "SubscribeRequest",
    "Subscribed",
    "Subscription",
    "SubscriptionLookup",
    "SyncSettings",
    "TimeZone",
    "UserInfo",
    "__version__",
    "hookimpl",
    "oauth",
    "oauth_hooks",
    "templates",
]
