"""How Zoom's error bodies become the hub's errors: a spent daily quota told apart from
per-second throttling, an invalid token and a missing scope recognised by their codes."""

from __future__ import annotations

import httpx

from axhub import (
    InvalidCredentials,
    ProviderError,
    ProviderPermissionDenied,
    QuotaExceeded,
    RateLimited,
    classify,
    retry_after,
)


def zoom_error(response: httpx.Response) -> ProviderError | None:
    """Zoom's API error body: ``{"code": 124, "message": "Invalid access token."}``.
    A 429 is a spent daily quota when ``X-RateLimit-Type`` says ``Daily-limit`` (its
    ``Retry-After`` is then a timestamp), else per-second throttling."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or "code" not in body:
        return None
    code, status = body.get("code"), response.status_code
    message = str(body.get("message") or f"HTTP {status}")
    if status == 429:
        kind = response.headers.get("x-ratelimit-type") or "rate_limited"
        error = QuotaExceeded if kind.lower().startswith("daily") else RateLimited
        return error(message, reason=kind, status=status, retry_after=retry_after(response.headers))
    if code == 124:  # invalid or expired access token
        return InvalidCredentials(message, reason=str(code), status=status)
    if code in (4700, 4711):  # the token lacks a scope the call needs (Zoom answers 400)
        return ProviderPermissionDenied(message, reason=str(code), status=status)
    return classify(response, str(code), message)
