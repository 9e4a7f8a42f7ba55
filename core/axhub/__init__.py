"""axhub: the Attendance-X integration hub.

What a plugin author imports lives here: ``hookimpl`` to mark hook implementations, the
types that cross the hook boundary, the errors a plugin raises, the OAuth helpers, the
calendar sync adapter's types, retries and rate-limit headers, the delivery policy, the
chat building blocks, the outbound-URL guard and webhook signatures. With
``axhub.sandbox`` and ``axhub.testing`` it is the whole public API (docs/api-stability.md):
every other module is the hub's own and may change in any release.
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
from .provider import ProviderContext, classify  # noqa: E402
from .http import api_limits, retry_after  # noqa: E402
from .retry import Again, QuotaBreaker, settle_calls, with_retries  # noqa: E402
from .netguard import HTTP_URL_PATTERN, Blocked, Guard, validating_guard  # noqa: E402
from .signing import headers as signature_headers  # noqa: E402
from .notifications import (  # noqa: E402
    Channels,
    ChatSettings,
    MessageTemplates,
    NotificationToggles,
    NotificationType,
    UserMentions,
)
from .sync import (  # noqa: E402
    FIELDS,
    Attendee,
    AttendanceRecord,
    CalendarAdapter,
    CursorExpired,
    EventData,
    FollowUp,
    LinkedEvent,
    MeetingAdapter,
    Page,
    RemoteEvent,
    WriteOp,
    WriteResult,
    read_ahead,
    remove_created,
)
from .inbound import (  # noqa: E402
    InboundAnswer,
    InboundRequest,
    Signal,
    SubscribeRequest,
    Subscribed,
    Subscription,
    SubscriptionLookup,
    v0_refusal,
    v0_signature,
)
from . import notifications, oauth, oauth_hooks, templates  # noqa: E402
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
    Policy,
    ProviderInfo,
    Scope,
    Settings,
    SyncSettings,
    UserInfo,
)

__all__ = [
    "FIELDS",
    "HTTP_URL_PATTERN",
    "Again",
    "ApiLimits",
    "Attendee",
    "AttendanceRecord",
    "Blocked",
    "CalendarAdapter",
    "Channels",
    "Chat",
    "ChatSettings",
    "CursorExpired",
    "EventData",
    "FollowUp",
    "Guard",
    "LinkedEvent",
    "MeetingAdapter",
    "MessageTemplates",
    "NotificationToggles",
    "NotificationType",
    "Page",
    "Policy",
    "QuotaBreaker",
    "RemoteEvent",
    "UserMentions",
    "WriteOp",
    "WriteResult",
    "api_limits",
    "classify",
    "read_ahead",
    "remove_created",
    "retry_after",
    "settle_calls",
    "signature_headers",
    "v0_refusal",
    "v0_signature",
    "validating_guard",
    "with_retries",
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
    "notifications",
    "oauth",
    "oauth_hooks",
    "templates",
]
