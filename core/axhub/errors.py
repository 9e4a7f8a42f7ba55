"""Error codes of the Integrations API, and the exceptions that carry them.

The codes are the spec's (`spec/integrations-api.md`, "Codes d'erreur") plus
the hub's own (`VALIDATION_ERROR`, `UNAUTHORIZED`, `NOT_FOUND`, `METHOD_NOT_ALLOWED`,
`CONFLICT`, `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`, `INTERNAL_ERROR`), which the spec lacks. Every
error leaves the API as ``{"success": false, "error": {"code", "message", "field"?}}``.
Plugins raise :class:`ProviderError` (or a subclass) when their provider refuses a call;
the core turns it into the right code and HTTP status.
"""

from __future__ import annotations

from typing import Any

# code -> HTTP status
CODES: dict[str, int] = {
    "INTEGRATION_NOT_FOUND": 404,
    "PROVIDER_NOT_SUPPORTED": 404,
    "OAUTH_ERROR": 400,
    "PERMISSION_DENIED": 403,
    "RATE_LIMIT_EXCEEDED": 429,
    "SYNC_FAILED": 502,
    "CONNECTION_ERROR": 502,
    "INVALID_CREDENTIALS": 401,
    "WEBHOOK_FAILED": 502,
    "API_QUOTA_EXCEEDED": 429,
    "VALIDATION_ERROR": 400,
    "UNAUTHORIZED": 401,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INTERNAL_ERROR": 500,
}


class ApiError(Exception):
    """An error answered to an API caller with one of :data:`CODES`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        assert code in CODES, code
        self.code = code
        self.message = message
        self.field = field
        self.status = status or CODES[code]
        self.details = details
        self.headers = headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details:
            error["details"] = self.details
        return {"success": False, "error": error}


class ConfigurationError(ApiError):
    """The operator has not configured what a provider needs (an OAuth client, a tenant):
    503 ``PROVIDER_NOT_SUPPORTED``. Plugins raise it from any hook."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__("PROVIDER_NOT_SUPPORTED", message, field=field, status=503)


def validation_error(field: str, message: str) -> ApiError:
    return ApiError("VALIDATION_ERROR", f"{field}: {message}", field=field)


class ProviderError(Exception):
    """A provider refused or failed a call. Raised by plugins, mapped by the core.

    ``code`` is one of the spec's codes (``CONNECTION_ERROR`` unless said otherwise);
    ``reason`` is the provider's own error identifier (``invalid_grant``,
    ``channel_not_found``…), kept for history and analytics.
    """

    code = "CONNECTION_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        if code is not None:
            self.code = code
        self.status = status
        self.retry_after = retry_after


class OAuthError(ProviderError):
    """The provider's authorization server refused the authorization or token request."""

    code = "OAUTH_ERROR"


class InvalidCredentials(ProviderError):
    """The stored grant is dead (``invalid_grant``, revoked token): the user must reconnect."""

    code = "INVALID_CREDENTIALS"


class RateLimited(ProviderError):
    """The provider throttled us; ``retry_after`` says for how long, in seconds, if it said."""

    code = "RATE_LIMIT_EXCEEDED"


class QuotaExceeded(RateLimited):
    """A daily or monthly quota is spent (e.g. Zoom's daily limits)."""

    code = "API_QUOTA_EXCEEDED"


class ProviderPermissionDenied(ProviderError):
    """The grant lacks a permission the call needs."""

    code = "PERMISSION_DENIED"


class SettingsError(Exception):
    """Raised from a settings Struct's ``__post_init__`` to name the faulty field
    (its camelCase path inside the settings, e.g. ``filters.minDuration``).

    Deliberately not a ValueError: msgspec would fold a ValueError into a generic
    validation message and lose the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
