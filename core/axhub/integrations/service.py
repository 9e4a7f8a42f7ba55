"""What ``/api/integrations`` does. Every query is scoped to the caller's organisation:
another organisation's integration does not exist for you (404, never 403)."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import select, update

from ..metering import attribute
from ..auth import Identity
from ..db import Integration, OAuthState, SyncState
from ..errors import ApiError, InvalidCredentials, OAuthError, ProviderError, validation_error
from ..ids import new_id
from ..netguard import Guard, validating
from ..state import Services
from ..signing import new_secret
from ..types import (AuthorizationRequest, CleanupReport, Connection, ConnectionReport, Credentials, Grant, ProviderInfo,
                     SyncSettings, UserInfo)
from ..validation import convert
from . import schemas as s

log = logging.getLogger("axhub.integrations")

STATUSES = ("connected", "disconnected", "error")
# Settings every scheduled provider understands, accepted at the top level of PUT /settings.
TOP_LEVEL_SETTINGS = {"sync_direction": "syncDirection", "auto_sync": "autoSync", "sync_interval": "syncInterval"}


def now() -> datetime:
    return datetime.now(timezone.utc)


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


# -- views ---------------------------------------------------------------------------

async def views(svc: Services, rows: list[Integration]) -> list[s.IntegrationOut]:
    """Integration views with their ``statistics``, computed for all rows at once."""
    from ..deliveries.service import statistics_for as delivery_statistics
    from ..sync.runs import statistics_for

    from ..deliveries.service import messaging_statistics

    stats = await statistics_for(svc, [r.id for r in rows if r.type == "calendar"])
    stats.update(await messaging_statistics(svc, [r.id for r in rows if r.type == "communication"]))
    # Outbound deliveries (webhooks) are counted for every integration that made some.
    for integration_id, counts in (await delivery_statistics(svc, [r.id for r in rows])).items():
        stats.setdefault(integration_id, {})["deliveries"] = counts
    scheduled = [r for r in rows if svc.scheduler.interval_of(r) is not None]
    fires = await svc.scheduler.next_fire_times([r.id for r in scheduled])
    # The schedule's own next fire time; its grid (the same answer) when none is held here.
    next_syncs = {r.id: fires.get(r.id) or svc.scheduler.next_sync(r) for r in scheduled}
    return [view(svc, r, stats.get(r.id, {}), next_syncs.get(r.id)) for r in rows]


async def one_view(svc: Services, row: Integration) -> s.IntegrationOut:
    return (await views(svc, [row]))[0]


def view(svc: Services, row: Integration, statistics: dict[str, Any], next_sync: datetime | None = None) -> s.IntegrationOut:
    last_error = (
        s.LastError(code=row.last_error, message=row.last_error_message, at=row.last_error_at)
        if row.last_error
        else None
    )
    return s.IntegrationOut(
        id=row.id,
        provider=row.provider,
        type=row.type,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        connected_at=row.connected_at,
        last_sync=row.last_sync,
        last_activity=row.last_activity,
        disconnected_at=row.disconnected_at,
        settings=row.settings,
        notifications=msgspec.convert(row.notifications, s.NotificationPrefs),
        scopes=list(row.requested_scopes),
        permissions=list(row.permissions),
        statistics=statistics,
        connected_by=s.Person(**row.connected_by),
        account=msgspec.convert(row.account, UserInfo),
        last_error=last_error,
        next_sync=next_sync,
    )


# -- lookups ---------------------------------------------------------------------------

async def get_owned(svc: Services, identity: Identity, integration_id: str) -> Integration:
    async with svc.db.autocommit() as session:
        row = await session.scalar(
            select(Integration).where(Integration.id == integration_id, Integration.org_id == identity.org_id)
        )
    if row is None:
        raise ApiError("INTEGRATION_NOT_FOUND", f"integration {integration_id!r} not found")
    return row


def known_provider_slugs(svc: Services) -> set[str]:
    return set(svc.plugins.records)


async def list_integrations(
    svc: Services, identity: Identity, provider: str | None, status: str | None, type_: str | None
) -> list[s.IntegrationOut]:
    from ..types import PROVIDER_TYPES

    if provider is not None and provider not in known_provider_slugs(svc):
        raise validation_error("provider", f"unknown provider {provider!r}; known: {', '.join(sorted(known_provider_slugs(svc)))}")
    if status is not None and status not in STATUSES:
        raise validation_error("status", f"must be one of {', '.join(STATUSES)}")
    if type_ is not None and type_ not in PROVIDER_TYPES:
        raise validation_error("type", f"must be one of {', '.join(PROVIDER_TYPES)}")
    query = select(Integration).where(Integration.org_id == identity.org_id)
    if provider is not None:
        query = query.where(Integration.provider == provider)
    if status is not None:
        query = query.where(Integration.status == status)
    if type_ is not None:
        query = query.where(Integration.type == type_)
    async with svc.db.session() as session:
        rows = (await session.scalars(query.order_by(Integration.connected_at.desc(), Integration.id))).all()
    return await views(svc, list(rows))


# -- validation ------------------------------------------------------------------------

def resolve_scopes(info: ProviderInfo, requested: list[str] | None) -> list[str]:
    scopes = list(info.default_scopes) if requested is None else requested
    if not scopes:
        raise validation_error("scopes", f"at least one scope is needed; {info.slug} offers {', '.join(x.name for x in info.scopes)}")
    for i, name in enumerate(scopes):
        if info.scope(name) is None:
            raise validation_error(
                f"scopes[{i}]", f"unknown scope {name!r} for {info.slug}; offered: {', '.join(x.name for x in info.scopes)}"
            )
    return list(dict.fromkeys(scopes))


def validate_settings(svc: Services, info: ProviderInfo, data: dict[str, Any], *, prefix: str = "settings") -> dict[str, Any]:
    # Destinations being saved meet the operator's outbound rules (https only…) now,
    # rather than being refused at their first send.
    with validating(Guard.from_env(svc.config.env)):
        obj = convert(data, info.settings_type, prefix=prefix)
    if isinstance(obj, SyncSettings):
        low, high = svc.config.sync_interval_min, svc.config.sync_interval_max
        if not low <= obj.sync_interval <= high:
            raise validation_error(f"{prefix}.syncInterval", f"must be between {low} and {high} seconds")
    return msgspec.to_builtins(obj)


def validate_notifications(data: dict[str, Any] | None) -> dict[str, Any]:
    return msgspec.to_builtins(convert(data or {}, s.NotificationPrefs, prefix="notifications"))


def validate_redirect_uri(svc: Services, slug: str, value: str | None) -> str:
    if value is None:
        return f"{svc.config.public_url}/oauth/{slug}/callback"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise validation_error("redirectUri", "must be an absolute http(s) URL without a fragment")
    allowed = svc.config.env.get("AXHUB_REDIRECT_URIS")
    if allowed:
        prefixes = [p.strip() for p in allowed.split(",") if p.strip()]
        if not any(value.startswith(p) for p in prefixes):
            raise validation_error("redirectUri", "is not in the operator's list of allowed redirect URIs (AXHUB_REDIRECT_URIS)")
    return value


def permissions_for(info: ProviderInfo, scopes: list[str], granted: set[str]) -> dict[str, bool]:
    """Each permission the requested scopes carry, and whether the provider granted it."""
    result: dict[str, bool] = {}
    for name in scopes:
        scope = info.scope(name)
        if scope is None:
            continue
        ok = all(p in granted for p in scope.provider_scopes)
        for permission in scope.permissions:
            result[permission] = result.get(permission, False) or ok
    return result


# -- connect ---------------------------------------------------------------------------

def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def connect(svc: Services, identity: Identity, slug: str, body: s.ConnectIn) -> s.ConnectOut:
    info = svc.hub.provider(slug)
    scopes = resolve_scopes(info, body.scopes)
    settings = validate_settings(svc, info, body.settings or {})
    notifications = validate_notifications(body.notifications)
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


async def callback(svc: Services, identity: Identity, slug: str, body: s.CallbackIn) -> s.CallbackOut:
    info = svc.hub.provider(slug)
    if not info.oauth:
        raise ApiError("OAUTH_ERROR", f"{slug} does not connect through OAuth", field="provider")
    if not body.code.strip():
        raise validation_error("code", "must not be empty")
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
    initial = None
    if svc.hub.implements(slug, "sync"):
        from ..sync.runs import SyncIn, start

        started = await start(svc, row, SyncIn(), type_="initial", triggered_by="initial_sync")
        initial = s.InitialSync(status="scheduled", estimated_duration=started["estimatedDuration"],
                                sync_id=started["syncId"])
    return s.CallbackOut(
        integration_id=row.id,
        provider=slug,
        status=row.status,
        connected_at=row.connected_at,
        permissions=list(row.permissions),
        user_info=grant.user,
        initial_sync=initial,
    )


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
    svc.deliveries.forget(row.org_id)
    await svc.scheduler.ensure(row)
    return row


# -- settings --------------------------------------------------------------------------

async def update_settings(svc: Services, identity: Identity, integration_id: str, body: s.SettingsIn) -> s.IntegrationOut:
    row = await get_owned(svc, identity, integration_id)
    info = svc.hub.provider(row.provider)
    merged = dict(row.settings)
    if body.settings is not msgspec.UNSET:
        merged.update(body.settings)
    top = {}
    for attr, key in TOP_LEVEL_SETTINGS.items():
        value = getattr(body, attr)
        if value is not msgspec.UNSET:
            top[key] = value
    if top:
        fields = {f.encode_name for f in msgspec.structs.fields(info.settings_type)}
        for key in top:
            if key not in fields:
                raise validation_error(key, f"{info.slug} integrations have no {key} setting")
        merged.update(top)
    try:
        settings = validate_settings(svc, info, merged)
    except ApiError as exc:
        # A fault in a top-level field is reported where the caller put it.
        bare = (exc.field or "").removeprefix("settings.")
        if bare in top:
            raise validation_error(bare, exc.message.split(": ", 1)[-1]) from None
        raise
    notifications = row.notifications
    if body.notifications is not msgspec.UNSET:
        notifications = validate_notifications({**row.notifications, **body.notifications})
    async with svc.db.session() as session, session.begin():
        await session.execute(
            update(Integration)
            .where(Integration.id == row.id, Integration.org_id == identity.org_id)
            .values(settings=settings, notifications=notifications, updated_at=now())
        )
        # New filters or mappings may change which events belong on the calendar: the
        # next sync looks at every local event again.
        await session.execute(update(SyncState).where(SyncState.integration_id == row.id).values(change_mark=None))
    svc.deliveries.forget(row.org_id)
    row.settings, row.notifications = settings, notifications
    await svc.scheduler.ensure(row)  # a new interval, or autoSync turned off, counts at once
    return await one_view(svc, row)


# -- provider calls --------------------------------------------------------------------

def connection(svc: Services, row: Integration) -> Connection:
    info = svc.hub.provider(row.provider)

    async def refresh(creds):
        if not svc.hub.implements(row.provider, "refresh"):
            return creds
        attribute(row.provider, row.org_id, row.id)
        return await svc.hub.call(row.provider, "refresh", credentials=creds)

    return Connection(
        id=row.id,
        org_id=row.org_id,
        provider=row.provider,
        settings=msgspec.convert(row.settings, info.settings_type),
        granted_scopes=tuple(row.granted_scopes),
        account=msgspec.convert(row.account, UserInfo),
        _credentials=lambda: svc.vault.get(row.id, refresh),
    )


async def _record_error(svc: Services, row: Integration, exc: ProviderError) -> s.LastError:
    at = now()
    values: dict[str, Any] = {"last_error": exc.code, "last_error_message": exc.message, "last_error_at": at, "updated_at": at}
    if isinstance(exc, InvalidCredentials):
        values["status"] = "error"
        values["last_error_message"] = f"{exc.message}; reconnect the integration"
    async with svc.db.session() as session, session.begin():
        await session.execute(update(Integration).where(Integration.id == row.id).values(**values))
    return s.LastError(code=exc.code, message=values["last_error_message"], at=at)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


async def test(svc: Services, identity: Identity, integration_id: str) -> s.TestOut:
    row = await get_owned(svc, identity, integration_id)
    info = svc.hub.provider(row.provider)
    granted = set(row.granted_scopes)
    if row.status == "disconnected":
        return s.TestOut(
            connection_status="disconnected",
            response_time=None,
            permissions=permissions_for(info, row.requested_scopes, set()),
            api_limits=None,
            last_error=None,
            recommendations=[f"The integration is disconnected: connect {info.name} again"],
        )
    if not svc.hub.implements(row.provider, "test_connection"):
        raise ApiError("PROVIDER_NOT_SUPPORTED", f"{info.name} offers no connection test", status=501)
    started = time.perf_counter()
    error: s.LastError | None = None
    report = ConnectionReport()
    try:
        report = await svc.hub.call(row.provider, "test_connection", connection=connection(svc, row))
    except ProviderError as exc:
        error = await _record_error(svc, row, exc)
    elapsed = time.perf_counter() - started
    if report.granted_scopes is not None:
        granted = set(report.granted_scopes)
    permissions = permissions_for(info, row.requested_scopes, granted)
    missing = [p for p, ok in permissions.items() if not ok]
    recommendations: list[str] = []
    if error is not None:
        status = "unhealthy"
        if error.code == "INVALID_CREDENTIALS":
            recommendations.append(f"Reconnect {info.name}: the provider no longer accepts the stored grant")
        elif error.code in ("RATE_LIMIT_EXCEEDED", "API_QUOTA_EXCEEDED"):
            recommendations.append("The provider is throttling this integration; retry later or sync less often")
        else:
            recommendations.append(f"{info.name} could not be reached or refused the call: {error.message}")
    else:
        status = "degraded" if missing else "healthy"
        recommendations.append("Connection is healthy")
        if missing:
            recommendations.append(f"Missing permissions: {', '.join(missing)}; reconnect and grant them")
        else:
            recommendations.append("All required permissions are granted")
        at = now()
        values: dict[str, Any] = {"last_activity": at, "updated_at": at, "granted_scopes": sorted(granted),
                                  "permissions": [p for p, ok in permissions.items() if ok]}
        # The provider accepts us again: whatever went wrong before is over.
        values.update(last_error=None, last_error_message=None, last_error_at=None)
        if row.status == "error":
            values["status"] = "connected"
        async with svc.db.session() as session, session.begin():
            await session.execute(update(Integration).where(Integration.id == row.id).values(**values))
    recommendations.extend(report.recommendations)
    if report.api_limits and report.api_limits.remaining is not None and report.api_limits.limit:
        if report.api_limits.remaining < 0.1 * report.api_limits.limit:
            recommendations.append("Less than 10% of the provider's rate limit remains")
    return s.TestOut(
        connection_status=status,  # type: ignore[arg-type]
        response_time=_ms(elapsed),
        permissions=permissions,
        api_limits=report.api_limits,
        last_error=error,
        recommendations=recommendations,
    )


async def disconnect(svc: Services, identity: Identity, integration_id: str) -> s.DisconnectOut:
    row = await get_owned(svc, identity, integration_id)
    if row.status == "disconnected":
        return s.DisconnectOut(
            integration_id=row.id,
            status="disconnected",
            disconnected_at=row.disconnected_at or row.updated_at,
            cleanup_status=s.CleanupStatus(events_removed=0, webhooks_disabled=0, tokens_revoked=False, notes=["already disconnected"]),
        )
    report = CleanupReport()
    notes: list[str] = []
    record = svc.plugins.records.get(row.provider)
    if record is None or record.status != "loaded":
        notes.append(f"provider plugin {row.provider!r} is not loaded: nothing was undone at the provider")
    elif svc.hub.implements(row.provider, "disconnect"):
        try:
            report = await svc.hub.call(row.provider, "disconnect", connection=connection(svc, row))
        except ProviderError as exc:
            notes.append(f"cleanup at the provider failed: {exc.message}")
    at = now()
    async with svc.db.session() as session, session.begin():
        await svc.vault.forget(session, row.id)
        await session.execute(
            update(Integration)
            .where(Integration.id == row.id, Integration.org_id == identity.org_id)
            .values(status="disconnected", disconnected_at=at, updated_at=at)
        )
    svc.deliveries.forget(row.org_id)
    await svc.scheduler.forget(row.id)
    return s.DisconnectOut(
        integration_id=row.id,
        status="disconnected",
        disconnected_at=at,
        cleanup_status=s.CleanupStatus(
            events_removed=report.events_removed,
            webhooks_disabled=report.webhooks_disabled,
            tokens_revoked=report.tokens_revoked,
            notes=[*report.notes, *notes],
        ),
    )


def providers(svc: Services) -> list[s.ProviderOut]:
    out = []
    for record in svc.plugins.records.values():
        info = record.info
        if info is None:
            out.append(s.ProviderOut(slug=record.name, status=record.status, version=record.version, distribution=record.distribution, error=record.error))  # type: ignore[arg-type]
            continue
        out.append(
            s.ProviderOut(
                slug=info.slug,
                status="loaded",
                version=record.version,
                distribution=record.distribution,
                name=info.name,
                type=info.type,
                description=info.description,
                capabilities=list(info.capabilities),
                hooks=list(record.hooks),
                scopes=[s.ScopeOut(name=x.name, permissions=list(x.permissions), provider_scopes=list(x.provider_scopes), description=x.description) for x in info.scopes],
                default_scopes=list(info.default_scopes),
                settings_schema=msgspec.json.schema(info.settings_type),
                sandbox=svc.hub.sandbox_base is not None and info.sandbox is not None,
            )
        )
    return out
