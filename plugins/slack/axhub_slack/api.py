"""Calling Slack's Web API and reading its answers.

Slack answers almost every failure with HTTP 200 and ``{"ok": false, "error": "…"}``;
only throttling has its own status (429 + ``Retry-After``). So a successful HTTP status
proves nothing here: every body's ``ok`` is checked, and its ``error`` mapped to the
hub's errors.
"""

from __future__ import annotations

from typing import Any

import httpx

from axhub import (
    InvalidCredentials,
    ProviderContext,
    ProviderError,
    ProviderPermissionDenied,
    RateLimited,
    classify,
    oauth,
    retry_after,
)

# The grant is gone: the token was revoked, the app uninstalled, the workspace or user deleted.
DEAD = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                  "team_disabled", "invalid_refresh_token", "invalid_grant"})
# The grant lives but lacks a scope, or the token type is wrong for the method.
FORBIDDEN = frozenset({"missing_scope", "no_permission", "not_allowed_token_type", "ekm_access_denied",
                       "access_denied", "restricted_action", "not_in_channel"})
THROTTLED = frozenset({"ratelimited", "rate_limited"})

# What oauth.v2.access's errors mean, for the messages users see.
TOKEN_ERRORS = {
    "invalid_code": "the authorization code is invalid, expired or already used",
    "bad_redirect_uri": "redirect_uri does not match the one of the authorization request",
    "invalid_client_id": "Slack does not know this client_id",
    "bad_client_secret": "the client_secret is wrong",
    "invalid_grant_type": "grant_type is not one Slack accepts",
    "invalid_refresh_token": "the refresh token is invalid or revoked",
    "oauth_authorization_url_mismatch": "the flow was not started at /oauth/v2/authorize",
    "cannot_install_an_org_installed_app": "the app is installed for the whole organisation already",
}


def error_of(response: httpx.Response, body: dict[str, Any] | None = None) -> ProviderError:
    """The hub's error for a Slack error answer (HTTP 200 ``ok:false``, or 429/5xx)."""
    if body is None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
    error = str(body.get("error") or "")
    status = response.status_code
    if response.status_code == 429 or error in THROTTLED:
        wait = retry_after(response.headers)
        message = "Slack is rate limiting this app" + (f" (retry after {wait:g}s)" if wait is not None else "")
        return RateLimited(message, reason=error or "ratelimited", status=status, retry_after=wait)
    if not error:
        return classify(response)
    if error in DEAD:
        return InvalidCredentials(f"Slack refused the token ({error})", reason=error, status=status)
    if error in FORBIDDEN:
        needed = body.get("needed")
        hint = f"; needs {needed}" if needed else ""
        return ProviderPermissionDenied(f"Slack refused the call ({error}{hint})", reason=error, status=status)
    return ProviderError(f"Slack answered {error}", reason=error, status=status)


def _non_2xx(response: httpx.Response) -> ProviderError | None:
    return error_of(response)


async def call(ctx: ProviderContext, method: str, token: str, *, http: str = "POST",
               params: dict[str, str] | None = None) -> httpx.Response:
    """Call Web API ``method`` (``auth.test``…) with ``token`` as Bearer; the response
    when ``ok`` is true, else the matching :class:`ProviderError`."""
    url = f"{ctx.endpoint('api')}/{method}"
    if http == "GET":
        response = await ctx.call("GET", url, token=token, params=params or {}, errors=_non_2xx)
    else:
        response = await ctx.call("POST", url, token=token, data=params or {}, errors=_non_2xx)
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"Slack's {method} did not answer JSON", reason="bad_response") from None
    if not isinstance(body, dict) or body.get("ok") is not True:
        raise error_of(response, body if isinstance(body, dict) else {})
    return response


def fix_token_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """oauth.v2.access answers errors as HTTP 200 ``{"ok": false, "error": …}``: give
    authlib RFC 6749's ``{"error", "error_description"}`` so that it raises."""
    if status == 429 or body.get("error") in THROTTLED:
        # The core hands this hook no headers, so Slack's Retry-After is lost here.
        raise RateLimited("Slack is rate limiting the token endpoint", reason="ratelimited", status=status)
    if body.get("ok") is False or "error" in body:
        error = str(body.get("error") or "unknown_error")
        return {"error": error, "error_description": TOKEN_ERRORS.get(error, error)}
    if "access_token" not in body:
        return {"error": "bad_response", "error_description": "oauth.v2.access answered no access_token"}
    return body


PROFILE = oauth.OAuthProfile(
    # Slack prefers HTTP Basic at oauth.v2.access (form fields work too).
    client_auth="client_secret_basic",
    # Scopes are comma-separated in Slack's authorize URL.
    scope_separator=",",
    # Slack's PKCE is an app setting that turns the app into a public client for good
    # (and expires its refresh tokens after 30 days): not for a hub holding a secret.
    pkce=False,
    dead_grant=frozenset({"invalid_refresh_token", "invalid_grant", "invalid_auth", "token_revoked",
                          "account_inactive", "team_disabled"}),
    fix_token_response=fix_token_response,
)

__all__ = ["DEAD", "PROFILE", "call", "error_of", "fix_token_response"]
