"""OpenAPI: the error responses each route can give, in the spec's envelope, and the
operation type of routes whose body may be left out."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation

from ..wire import ErrorResponse

_DESCRIPTIONS = {
    400: "VALIDATION_ERROR (with the field at fault) or OAUTH_ERROR",
    401: "UNAUTHORIZED: missing, invalid or expired Bearer token",
    403: "PERMISSION_DENIED: the caller's role is too low",
    404: "INTEGRATION_NOT_FOUND, NOT_FOUND or PROVIDER_NOT_SUPPORTED",
    409: "CONFLICT: the resource is busy or in the wrong state",
    413: "PAYLOAD_TOO_LARGE: the body is over 1 MiB",
    415: "UNSUPPORTED_MEDIA_TYPE: the body is not JSON",
    429: "RATE_LIMIT_EXCEEDED or API_QUOTA_EXCEEDED",
    500: "INTERNAL_ERROR: a fault of the hub (see its log)",
    502: "CONNECTION_ERROR, SYNC_FAILED or WEBHOOK_FAILED: the provider failed",
    503: "PROVIDER_NOT_SUPPORTED: the operator has not configured the provider",
}
# Every route can answer these: a bad parameter, no token, a fault of the hub.
_ALWAYS = (400, 401, 500)
# And every route that reads a body these.
_BODY = (413, 415)


def errors(*statuses: int, body: bool = False) -> dict[int, ResponseSpec]:
    """The error answers of a route (``body``: it reads a JSON body), all in the envelope."""
    codes = sorted({*statuses, *_ALWAYS, *(_BODY if body else ())})
    return {
        code: ResponseSpec(data_container=ErrorResponse, description=_DESCRIPTIONS[code], generate_examples=False)
        for code in codes
    }


@dataclass
class OptionalBody(Operation):
    """An operation whose JSON body may be omitted (Litestar marks every body required)."""

    def __post_init__(self) -> None:
        if self.request_body is not None:
            self.request_body.required = False
