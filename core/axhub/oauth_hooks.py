"""The OAuth hooks the core implements for a provider that declares how it speaks OAuth 2.0.

A plugin whose ``ProviderInfo`` carries ``oauth2=OAuthProfile(...)`` need not write
``authorize``, ``exchange_code``, ``refresh``, ``test_connection`` or ``disconnect``: the
plugin manager gives it these for each one it leaves out (one it does write wins). They
are the same few lines every standard provider would otherwise copy: the consent URL
with PKCE, the code exchange and the granting account read from ``userinfo_endpoint``,
refresh keeping the old refresh token when the provider does not rotate it, a test that
calls the account endpoint and reads its rate-limit headers, and RFC 7009 revocation.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from . import oauth
from .errors import InvalidCredentials
from .http import api_limits
from .provider import ProviderContext
from .types import (
    AuthorizationRequest,
    CleanupReport,
    Connection,
    ConnectionReport,
    Credentials,
    Grant,
    OAuthProfile,
    UserInfo,
)


def _profile(ctx: ProviderContext) -> OAuthProfile:
    profile = ctx.info.oauth2
    assert profile is not None, "standard OAuth hooks are given only to providers that declare oauth2"
    return profile


def _field(answer: Mapping[str, Any], path: str) -> str | None:
    value: Any = answer
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return None if value is None else str(value)


async def _account(ctx: ProviderContext, profile: OAuthProfile, token: str) -> tuple[UserInfo | None, Any]:
    """The granting account and the raw answer (for its headers), when the profile names
    an endpoint for it."""
    if profile.userinfo_endpoint is None:
        return None, None
    response = await ctx.call("GET", ctx.endpoint(profile.userinfo_endpoint), token=token)
    body = response.json()
    body = body if isinstance(body, Mapping) else {}
    uid, email, name = (_field(body, path) for path in profile.user_fields)
    return UserInfo(id=uid, email=email, name=name), response


def authorize(ctx: ProviderContext, request: AuthorizationRequest) -> str:
    """The consent URL (client, redirect URI, scopes, ``state``, PKCE;
    :func:`axhub.oauth.authorization_url`)."""
    return oauth.authorization_url(ctx, request, _profile(ctx))


async def exchange_code(ctx: ProviderContext, request: AuthorizationRequest, code: str) -> Grant:
    """The code for tokens, and the granting account from ``userinfo_endpoint``
    (``user_fields``)."""
    profile = _profile(ctx)
    credentials = oauth.to_credentials(await oauth.exchange(ctx, request, code, profile))
    user, _ = await _account(ctx, profile, credentials.access_token)
    return Grant(credentials=credentials, user=user or UserInfo(), granted_scopes=credentials.scopes)


async def refresh(ctx: ProviderContext, credentials: Credentials) -> Credentials:
    """New credentials; the old refresh token is kept when the provider does not rotate it."""
    # invalid_grant (or the profile's dead_grant codes) becomes InvalidCredentials: the
    # integration goes to error and the user reconnects.
    return await oauth.refresh(ctx, credentials, _profile(ctx))


async def test_connection(ctx: ProviderContext, connection: Connection, *,
                          credentials: Credentials | None = None) -> ConnectionReport:
    """``credentials``: a plugin's own test that extends this one passes those it already
    holds, so that one test refreshes a due token once."""
    profile = _profile(ctx)
    credentials = credentials or await connection.credentials()
    user, response = await _account(ctx, profile, credentials.access_token)
    if response is None:  # nothing to call: the refresh behind credentials() is the test
        return ConnectionReport(granted_scopes=credentials.scopes)
    who = user.email or user.name or user.id if user else None
    return ConnectionReport(
        granted_scopes=credentials.scopes,
        api_limits=api_limits(response.headers),
        account=user,
        recommendations=(f"Connected to {ctx.info.name} as {who}",) if who else (),
    )


async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    """Revoke the grant at ``revoke_endpoint`` (RFC 7009); a dead grant or no endpoint is
    noted."""
    try:
        credentials = await connection.credentials()
    except InvalidCredentials:
        return CleanupReport(notes=("The grant was already dead: nothing to revoke",))
    profile = _profile(ctx)
    if profile.revoke_endpoint is None:
        return CleanupReport(notes=(f"{ctx.info.name} offers no token revocation: remove the app from the account",))
    revoked = await oauth.revoke(ctx, credentials.refresh_token or credentials.access_token, profile)
    return CleanupReport(tokens_revoked=revoked)


STANDARD: dict[str, Callable[..., Any | Awaitable[Any]]] = {
    "authorize": authorize,
    "exchange_code": exchange_code,
    "refresh": refresh,
    "test_connection": test_connection,
    "disconnect": disconnect,
}
