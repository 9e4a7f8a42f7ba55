"""OAuth 2.0 client helpers for plugins, on authlib's httpx client.

A plugin's ``authorize``, ``exchange_code`` and ``refresh`` are usually a few lines over
these: the provider's quirks (client authentication, scope separator, PKCE support,
extra parameters, odd error bodies) are declared in an :class:`OAuthProfile`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import httpx

from .errors import InvalidCredentials, OAuthError, ProviderError
from .provider import ProviderContext
# The profile is declared in ProviderInfo (types), so it lives beside it; it is
# re-exported here, where the helpers that read it are.
from .types import AuthorizationRequest, Credentials, OAuthProfile

__all__ = ["OAuthProfile", "authorization_url", "exchange", "refresh", "revoke", "to_credentials"]


def _client(ctx: ProviderContext, profile: OAuthProfile, **kwargs: Any):
    client = ctx.oauth_client(
        token_endpoint_auth_method=profile.client_auth,
        code_challenge_method="S256" if profile.pkce else None,
        **kwargs,
    )
    if profile.fix_token_response is not None:
        fix = profile.fix_token_response

        def hook(resp: httpx.Response) -> httpx.Response:
            try:
                body = resp.json()
            except ValueError:
                return resp
            if not isinstance(body, dict):
                return resp
            return httpx.Response(resp.status_code, json=fix(resp.status_code, body), request=resp.request)

        client.register_compliance_hook("access_token_response", hook)
        client.register_compliance_hook("refresh_token_response", hook)
    return client


def authorization_url(ctx: ProviderContext, request: AuthorizationRequest, profile: OAuthProfile) -> str:
    """The consent URL: client id, redirect URI, scopes, state and (if supported) PKCE."""
    client = _client(
        ctx,
        profile,
        scope=profile.scope_separator.join(request.provider_scopes),
        redirect_uri=request.redirect_uri,
    )
    url, _ = client.create_authorization_url(
        ctx.endpoint(profile.authorize_endpoint),
        state=request.state,
        code_verifier=request.code_verifier if profile.pkce else None,
        **dict(profile.authorize_params),
    )
    return url


async def _call(coro_factory, *, dead: frozenset[str] | None = None):
    try:
        return await coro_factory()
    except ProviderError:
        raise
    except httpx.HTTPStatusError as exc:
        raise ProviderError(
            f"token endpoint answered HTTP {exc.response.status_code}",
            reason=f"http_{exc.response.status_code}",
            status=exc.response.status_code,
        ) from None
    except httpx.TimeoutException:
        raise ProviderError("token endpoint timed out", reason="timeout") from None
    except httpx.TransportError as exc:
        raise ProviderError(f"token endpoint unreachable: {exc.__class__.__name__}", reason="unreachable") from None
    except ValueError as exc:  # authlib: body not JSON
        raise ProviderError(str(exc), reason="bad_response") from None
    except Exception as exc:  # authlib's OAuthError (and its subclasses)
        error = getattr(exc, "error", None)
        if error is None:
            raise
        description = getattr(exc, "description", None) or error
        if dead is not None and error in dead:
            raise InvalidCredentials(description, reason=error) from None
        raise OAuthError(description, reason=error) from None


async def exchange(
    ctx: ProviderContext, request: AuthorizationRequest, code: str, profile: OAuthProfile
) -> dict[str, Any]:
    """POST the authorization code to the token endpoint; the provider's raw token body."""
    async with _client(ctx, profile, redirect_uri=request.redirect_uri) as client:
        extra = {"code_verifier": request.code_verifier} if profile.pkce and request.code_verifier else {}
        return dict(
            await _call(
                lambda: client.fetch_token(
                    ctx.endpoint(profile.token_endpoint),
                    grant_type="authorization_code",
                    code=code,
                    redirect_uri=request.redirect_uri,
                    **extra,
                )
            )
        )


async def refresh(ctx: ProviderContext, credentials: Credentials, profile: OAuthProfile) -> Credentials:
    """Refresh ``credentials``; the provider's new refresh token replaces the old one when
    it rotates them, the old one is kept when it does not."""
    if not credentials.refresh_token:
        raise InvalidCredentials("no refresh token was granted; reconnect", reason="no_refresh_token")
    async with _client(ctx, profile) as client:
        token = await _call(
            lambda: client.refresh_token(
                ctx.endpoint(profile.token_endpoint), refresh_token=credentials.refresh_token
            ),
            dead=profile.dead_grant,
        )
    return to_credentials(dict(token), previous=credentials)


async def revoke(ctx: ProviderContext, token: str, profile: OAuthProfile, hint: str = "refresh_token") -> bool:
    """RFC 7009 revocation; True when the provider confirmed it."""
    if profile.revoke_endpoint is None:
        return False
    async with _client(ctx, profile) as client:
        try:
            resp = await client.revoke_token(ctx.endpoint(profile.revoke_endpoint), token=token, token_type_hint=hint)
        except httpx.HTTPError:
            return False
    return resp.status_code == 200


def to_credentials(token: Mapping[str, Any], *, previous: Credentials | None = None, extra: dict | None = None) -> Credentials:
    """A standard token response as :class:`Credentials`."""
    expires_at = None
    if token.get("expires_in") not in (None, ""):
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=float(token["expires_in"]))
    elif token.get("expires_at"):
        expires_at = datetime.fromtimestamp(float(token["expires_at"]), timezone.utc)
    scope = token.get("scope")
    if isinstance(scope, str):
        # Providers separate granted scopes by spaces (RFC 6749) or commas (Slack).
        scopes = tuple(s for s in re.split(r"[\s,]+", scope) if s)
    elif isinstance(scope, (list, tuple)):
        scopes = tuple(scope)
    else:
        scopes = previous.scopes if previous else ()
    return Credentials(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else None),
        expires_at=expires_at,
        token_type=str(token.get("token_type") or "Bearer"),
        scopes=scopes,
        extra={**(previous.extra if previous else {}), **(extra or {})},
    )
