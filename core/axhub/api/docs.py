"""OpenAPI: the error responses each route can give, in the spec's envelope."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from ..wire import ErrorResponse

_DESCRIPTIONS = {
    400: "VALIDATION_ERROR (with the field at fault) or OAUTH_ERROR",
    401: "UNAUTHORIZED: missing, invalid or expired Bearer token",
    403: "PERMISSION_DENIED: the caller's role is too low",
    404: "INTEGRATION_NOT_FOUND or PROVIDER_NOT_SUPPORTED",
    409: "CONFLICT: the resource is busy or in the wrong state",
    429: "RATE_LIMIT_EXCEEDED",
    502: "CONNECTION_ERROR: the provider failed",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(data_container=ErrorResponse, description=_DESCRIPTIONS[code], generate_examples=False)
        for code in statuses
    }
