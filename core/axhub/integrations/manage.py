"""What a manager does with a connected integration: new settings, a live connection
test with recommendations, and the disconnect that undoes what the provider holds."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from sqlalchemy import update

from ..auth import Identity
from ..db import Integration, SyncState
from ..errors import ApiError, ProviderError, validation_error
from ..runtime.services import Services
from ..types import CleanupReport, ConnectionReport
from . import schemas as s
from ..vault import SANDBOX_LOST, open_settings, unmask_settings
from .limits import api_limits
from . import test_notice
from .rules import TOP_LEVEL_SETTINGS, permissions_for, validate_notifications, validate_settings
from .service import connection, get_owned, now, record_error


async def update_settings(svc: Services, identity: Identity, integration_id: str, body: s.SettingsIn) -> Integration:
    """Merge and validate the new settings and save them; the saved row."""
    row = await get_owned(svc, identity, integration_id)
    info = svc.hub.provider(row.provider)
    stored = open_settings(svc.cipher, row.settings, info.secret_settings)
    merged = dict(stored)
    if body.settings is not msgspec.UNSET:
        # A secret shown masked and sent back as it was keeps its stored value.
        new, orphans = unmask_settings(body.settings, stored, info.secret_settings)
        if orphans:
            raise validation_error(f"settings.{orphans[0]}", "a masked value can only keep a stored one; send the value itself")
        merged.update(new)
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
        top, orphans = unmask_settings(top, stored, info.secret_settings)
        if orphans:
            raise validation_error(orphans[0], "a masked value can only keep a stored one; send the value itself")
        merged.update(top)
    try:
        settings = validate_settings(svc, info, merged)
    except ApiError as exc:
        # A fault in a top-level field is reported where the caller put it.
        bare = (exc.field or "").removeprefix("settings.")
        if bare.split(".", 1)[0] in top:
            raise validation_error(bare, exc.message.split(": ", 1)[-1]) from None
        raise
    notifications = row.notifications
    if body.notifications is not msgspec.UNSET:
        notifications = validate_notifications({**row.notifications, **msgspec.to_builtins(body.notifications)})
    async with svc.db.session() as session, session.begin():
        await session.execute(
            update(Integration)
            .where(Integration.id == row.id, Integration.org_id == identity.org_id)
            .values(settings=settings, notifications=notifications, updated_at=now())
        )
        # New filters or mappings may change which events belong on the calendar: the
        # next sync looks at every local event again.
        await session.execute(update(SyncState).where(SyncState.integration_id == row.id).values(change_mark=None))
    row.settings, row.notifications = settings, notifications
    await svc.lifecycle.changed(row)  # a new interval, or autoSync turned off, counts at once
    return row


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


async def test(svc: Services, identity: Identity, integration_id: str, body: s.TestIn | None = None) -> s.TestOut:
    """The live connection test; with ``sendTestMessage``, a test notice to each of the
    integration's channels too (:mod:`.test_notice`)."""
    body = body or s.TestIn()
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
        error = await record_error(svc, row, exc)
    elapsed = time.perf_counter() - started
    if report.granted_scopes is not None:
        granted = set(report.granted_scopes)
    permissions = permissions_for(info, row.requested_scopes, granted)
    missing = [p for p, ok in permissions.items() if not ok]
    recommendations: list[str] = []
    if error is not None:
        status = "unhealthy"
        if error.code == "INVALID_CREDENTIALS":
            recommendations.append(f"Reconnect {info.name}: the provider no longer accepts the stored grant"
                                   + (f" ({SANDBOX_LOST})" if svc.config.sandbox else ""))
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
    limits = await api_limits(svc, info, row.id, report.api_limits)
    if report.api_limits and report.api_limits.remaining is not None and report.api_limits.limit:
        if report.api_limits.remaining < 0.1 * report.api_limits.limit:
            recommendations.append("Less than 10% of the provider's rate limit remains")
    sent = None
    if body.send_test_message:
        sent = await test_notice.send(svc, row)
        if not sent.channels:
            recommendations.append("No channel is configured for notifications: no test message was sent")
    return s.TestOut(
        connection_status=status,  # type: ignore[arg-type]
        response_time=_ms(elapsed),
        permissions=permissions,
        api_limits=limits,
        last_error=error,
        recommendations=recommendations,
        test_message=sent,
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
    else:
        await svc.lifecycle.disconnecting(row)  # what needs the grant goes first (push subscriptions)
    if record is not None and record.status == "loaded" and svc.hub.implements(row.provider, "disconnect"):
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
    row.status, row.disconnected_at = "disconnected", at
    await svc.lifecycle.changed(row)
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
