"""How Google's error bodies become the hub's errors: throttling told apart from a
permission fault, the reason and message kept."""

from __future__ import annotations

import httpx

from axhub import ProviderError, QuotaExceeded, RateLimited, classify, retry_after


# 403s that say a quota is spent, not a permission missing: the project's daily limit
# (dailyLimitExceeded) and the Calendar usage limits (quotaExceeded).
QUOTA_SPENT = ("dailyLimitExceeded", "quotaExceeded")


def google_error(response: httpx.Response) -> ProviderError | None:
    """Google's error body: ``{"error": {"code", "message", "errors": [{"reason"}], "status"}}``.
    403 ``rateLimitExceeded``/``userRateLimitExceeded`` is throttling, not a permission fault."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    reasons = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
    reason = reasons[0] if reasons else error.get("status")
    message = error.get("message") or f"HTTP {response.status_code}"
    # Google's usageLimits reasons: a spent daily quota is not a rate to wait out.
    if reason in QUOTA_SPENT:
        return QuotaExceeded(message, reason=reason, status=response.status_code, retry_after=retry_after(response.headers))
    if reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        return RateLimited(message, reason=reason, status=response.status_code, retry_after=retry_after(response.headers))
    return classify(response, reason, message)
