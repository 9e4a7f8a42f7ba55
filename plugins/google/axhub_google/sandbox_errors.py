"""Google's API error bodies, shared by the sandbox's direct routes and batched calls.

``{"error": {"code", "message", "errors": [{"message", "domain", "reason", …}], "status"}}``;
the canonical ``status`` follows Google's mapping of HTTP codes to gRPC codes.
"""

from __future__ import annotations

from typing import Any

STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ABORTED", 410: "ABORTED", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
          500: "INTERNAL", 503: "UNAVAILABLE"}
REASON = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 409: "duplicate",
          410: "fullSyncRequired", 412: "conditionNotMet", 429: "rateLimitExceeded", 500: "backendError",
          503: "backendError"}


def error_body(status: int, message: str, reason: str | None = None, domain: str = "global", **where: str) -> dict[str, Any]:
    """``where`` adds Google's ``location``/``locationType`` to the error item."""
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason or REASON.get(status, "backendError")}
    item.update(where)
    return {"error": {"code": status, "message": message, "errors": [item], "status": STATUS.get(status, "UNKNOWN")}}


# The bodies Google sends for throttling and outages (what chaos and the rate limiter answer).
def rate_limited(status: int = 403) -> dict[str, Any]:
    return error_body(status, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits")


def outage(status: int) -> dict[str, Any]:
    if status == 503:
        return error_body(503, "The service is currently unavailable.", "backendError")
    if status in (403, 429):
        return rate_limited(status)
    return error_body(status, "Backend Error" if status >= 500 else "Injected fault")


UNAUTHENTICATED = error_body(
    401,
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "authError", location="Authorization", locationType="header",
)
# The per-item message differs from the top-level one in Google's real answer.
UNAUTHENTICATED["error"]["errors"][0]["message"] = "Invalid Credentials"
INSUFFICIENT_SCOPES = error_body(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
