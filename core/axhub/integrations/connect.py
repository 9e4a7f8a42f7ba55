"""Connecting an integration: the OAuth start (state, PKCE, the consent URL) and the
callback that spends the state, exchanges the code and stores the integration with its
encrypted grant; providers without OAuth are connected at once."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import timedelta

import msgspec
from sqlalchemy import update

from ..auth import Identity
from ..db import Integration, OAuthState
from ..errors import ApiError, OAuthError, ProviderError
from ..ids import new_id
from ..metering import attribute
from ..runtime.services import Services
from ..signing import new_secret
from ..types import AuthorizationRequest, Credentials, Grant, UserInfo
from . import schemas as s
from .rules import permissions_for, resolve_scopes, validate_notifications, validate_redirect_uri, validate_settings
from .service import now


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def connect(svc: Services, identity: Identity, slug: str, body: s.ConnectIn) -> s.ConnectOut:
    info = svc.hub.provider(slug)
    scopes = resolve_scopes(info, body.scopes)
    settings = validate_settings(svc, info, body.settings or {})
    notifications = validate_notifications(msgspec.to_builtins(body.notifications))
    if not info.oauth:
        # Providers that sign what they send get their secret now, in the vault, and it is
        # shown in this answer only.
        secret = new_secret() if "signing" in info.capabilities else None
        grant = Grant(credentials=Credentials(access_token=secret), user=UserInfo()) if secret else None
        row = await _create_integration(svc, identity, info, scopes, settings, notifications, grant=grant, name=body.name)
        return s.ConnectOut(
            provider=slug, scopes=scopes, integration_id=row.id, status=row.status, connected_at=row.connected_at,
            signing_secret=secret,
        )
    redirect_uri = validate_redirect_uri(svc, slug, body.redirect_uri)
    provider_scopes = tuple(dict.fromkeys(p for n in scopes for p in info.scope(n).provider_scopes))  # type: ignore[union-attr]
    state = secrets.token_urlsafe(32)
    pkce = "pkce" in info.capabilities
    verifier, challenge = _pkce_pair() if pkce else (None, None)
    request = AuthorizationRequest(
        state=state,
        redirect_uri=redirect_uri,
        provider_scopes=provider_scopes,
        code_verifier=verifier,
        code_challenge=challenge,
        code_challenge_method="S256" if pkce else None,
    )
    try:
        auth_url = await svc.hub.call(slug, "authorize", request=request)
    except ProviderError as exc:
        raise ApiError("CONNECTION_ERROR", f"{info.name}: {exc.message}", details={"reason": exc.reason}) from None
    created = now()
    expires = created + timedelta(seconds=svc.config.state_ttl)
    async with svc.db.session() as session, session.begin():
        session.add(
            OAuthState(
                state_hash=_hash_state(state),
                org_id=identity.org_id,
                user_id=identity.user_id,
                user=identity.as_user(),
                name=body.name,
                provider=slug,
                redirect_uri=redirect_uri,
                scopes=scopes,
                provider_scopes=list(provider_scopes),
                settings=settings,
                notifications=notifications,
                code_verifier=svc.cipher.seal(verifier.encode()) if verifier else None,
                created_at=created,
                expires_at=expires,
            )
        )
    return s.ConnectOut(provider=slug, scopes=scopes, auth_url=auth_url, state=state, expires_at=expires)


_VSCHAR = re.compile(r"[\x20-\x7e]+")


async def callback(svc: Services, identity: Identity, slug: str, body: s.CallbackIn) -> tuple[s.CallbackOut, Integration]:
    """Spend the state, exchange the code, store the integration: its answer (without
    ``initialSync``) and its row."""
    info = svc.hub.provider(slug)
    if not info.oauth:
        raise ApiError("OAUTH_ERROR", f"{slug} does not connect through OAuth", field="provider")
    # Checked before the state is spent, so a mistyped code can be corrected: RFC 6749
    # (appendix A.11) makes a code printable ASCII, and a provider is never asked otherwise.
    if not _VSCHAR.fullmatch(body.code):
        raise ApiError("OAUTH_ERROR", "code: an authorization code is printable ASCII only (RFC 6749, A.11)", field="code")
    at = now()
    digest = _hash_state(body.state)
    # Consume the state atomically: exactly one callback can win it, and only the
    # organisation, user and provider it was issued to.
    async with svc.db.session() as session, session.begin():
        result = await session.execute(
            update(OAuthState)
            .where(
                OAuthState.state_hash == digest,
                OAuthState.provider == slug,
                OAuthState.org_id == identity.org_id,
                OAuthState.user_id == identity.user_id,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > at,
            )
            .values(used_at=at)
        )
        if result.rowcount != 1:
            raise ApiError(
                "OAUTH_ERROR",
                "invalid OAuth state: unknown, expired, already used, or issued for another user or provider",
                field="state",
            )
        pending = await session.get(OAuthState, digest)
    assert pending is not None
    verifier = svc.cipher.open(pending.code_verifier).decode() if pending.code_verifier else None
    request = AuthorizationRequest(
        state=body.state,
        redirect_uri=pending.redirect_uri,
        provider_scopes=tuple(pending.provider_scopes),
        code_verifier=verifier,
        code_challenge_method="S256" if verifier else None,
    )
    attribute(slug, pending.org_id)  # the provider calls of this exchange count for the organisation
    try:
        grant: Grant = await svc.hub.call(slug, "exchange_code", request=request, code=body.code)
    except OAuthError as exc:
        raise ApiError(
            "OAUTH_ERROR",
            f"{info.name} refused the authorization code: {exc.message}",
            details={"reason": exc.reason} if exc.reason else None,
        ) from None
    except ProviderError as exc:
        code = exc.code if exc.code in ("RATE_LIMIT_EXCEEDED", "API_QUOTA_EXCEEDED") else "CONNECTION_ERROR"
        headers = {"Retry-After": str(int(exc.retry_after + 0.999))} if exc.retry_after else None
        raise ApiError(code, f"{info.name} token exchange failed: {exc.message}", details={"reason": exc.reason},
                       headers=headers) from None
    row = await _create_integration(
        svc,
        Identity(user_id=pending.user_id, org_id=pending.org_id, role=identity.role, name=pending.user.get("name"), email=pending.user.get("email")),
        info,
        list(pending.scopes),
        pending.settings,
        pending.notifications,
        grant=grant,
        name=pending.name,
    )
    return s.CallbackOut(
        integration_id=row.id,
        provider=slug,
        status=row.status,
        connected_at=row.connected_at,
        permissions=list(row.permissions),
        user_info=grant.user,
        # The route starts a provider's first sync (syncs belong to a layer above this one).
        initial_sync=s.InitialSync(status="skipped", reason=f"{slug} integrations do not sync"),
    ), row


async def _create_integration(svc, identity, info, scopes, settings, notifications, *, grant: Grant | None, name: str | None) -> Integration:
    at = now()
    if grant is not None:
        granted = set(grant.granted_scopes or grant.credentials.scopes)
        if not granted:  # the provider did not say: it granted what was asked
            granted = {p for n in scopes for p in info.scope(n).provider_scopes}
    else:
        granted = {p for n in scopes for p in info.scope(n).provider_scopes}
    perms = permissions_for(info, scopes, granted)
    row = Integration(
        id=new_id("int"),
        org_id=identity.org_id,
        provider=info.slug,
        type=info.type,
        name=name or info.name,
        status="connected",
        settings=settings,
        notifications=notifications,
        requested_scopes=scopes,
        granted_scopes=sorted(granted),
        permissions=[p for p, ok in perms.items() if ok],
        account=msgspec.to_builtins(grant.user) if grant else {},
        connected_by=identity.as_user(),
        connected_at=at,
        disconnected_at=None,
        last_sync=None,
        last_activity=None,
        last_error=None,
        last_error_message=None,
        last_error_at=None,
        updated_at=at,
    )
    async with svc.db.session() as session, session.begin():
        session.add(row)
        await session.flush()
        if grant is not None:
            session.add(svc.vault.row(row.id, grant.credentials))
    await svc.lifecycle.changed(row)
    return row
