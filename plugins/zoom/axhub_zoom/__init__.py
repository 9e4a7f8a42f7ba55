"""Zoom provider for axhub: OAuth 2.0 (PKCE, Basic client authentication, rotating refresh
tokens), connection test with Zoom's rate-limit headers, revocation on disconnect; meetings
for Attendance-X events and attendance from participant reports (``meetings``), through
the core's sync engine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from axhub import (
    AuthorizationRequest,
    CleanupReport,
    Connection,
    ConnectionReport,
    Endpoint,
    Grant,
    InboundAnswer,
    InboundRequest,
    Notification,
    ProviderContext,
    ProviderInfo,
    ProviderPermissionDenied,
    SubscribeRequest,
    Subscribed,
    SubscriptionLookup,
    UserInfo,
    api_limits,
    hookimpl,
    oauth,
)

from . import push, scopes
from .errors import zoom_error
from .meetings import ZoomMeetings
from .settings import ZoomSettings

__version__ = "0.1.0"


def fix_token_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """Zoom's token errors are ``{"reason", "error"}``: the reason becomes the RFC 6749
    ``error_description``. Zoom answers a rotated-out or revoked refresh token with
    ``invalid_request`` / ``Invalid Token!``, which is RFC 6749's ``invalid_grant``: the
    grant is dead and the user must reconnect."""
    if "error" not in body or "reason" not in body:
        return body
    fixed = {**body, "error_description": body.get("error_description") or body["reason"]}
    if body["error"] == "invalid_request" and str(body["reason"]).lower().startswith("invalid token"):
        fixed["error"] = "invalid_grant"
    return fixed


PROFILE = oauth.OAuthProfile(
    revoke_endpoint="revoke",
    client_auth="client_secret_basic",
    fix_token_response=fix_token_response,
)



INFO = ProviderInfo(
    # The standard refresh (axhub.oauth_hooks): Zoom rotates the refresh token on every
    # refresh, and the new one is kept. The other OAuth hooks are Zoom's own.
    oauth2=PROFILE,
    slug="zoom",
    name="Zoom",
    type="video",
    description="Zoom meetings for Attendance-X events, and attendance from Zoom's participant reports.",
    scopes=scopes.SCOPES,
    default_scopes=("meetings.read", "meetings.write", "reports.read", "user.read"),
    settings_type=ZoomSettings,
    capabilities=("oauth", "pkce", "refresh", "revoke", "push"),
    endpoints={
        "authorize": Endpoint("https://zoom.us/oauth/authorize", "/oauth/authorize"),
        "token": Endpoint("https://zoom.us/oauth/token", "/oauth/token"),
        "revoke": Endpoint("https://zoom.us/oauth/revoke", "/oauth/revoke"),
        "api": Endpoint("https://api.zoom.us/v2", "/v2"),
    },
    sandbox="axhub_zoom.sandbox:create_app",
    sandbox_client=("axhub-sandbox-zoom", "sandbox-secret-zoom"),
    docs_url="https://developers.zoom.us/docs/api/",
)


def user_info(me: dict[str, Any]) -> UserInfo:
    name = me.get("display_name") or " ".join(p for p in (me.get("first_name"), me.get("last_name")) if p) or None
    return UserInfo(id=me.get("id"), email=me.get("email"), name=name, avatar=me.get("pic_url") or None)


async def _me(ctx: ProviderContext, token: str) -> httpx.Response:
    return await ctx.call("GET", f"{ctx.endpoint('api')}/users/me", token=token, errors=zoom_error)


@hookimpl
def provider_info() -> ProviderInfo:
    return INFO


@hookimpl
def authorize(ctx: ProviderContext, request: AuthorizationRequest) -> str:
    # Zoom takes no scope parameter: the scopes are those of the Marketplace app.
    unscoped = AuthorizationRequest(state=request.state, redirect_uri=request.redirect_uri,
                                    provider_scopes=(), code_verifier=request.code_verifier)
    return oauth.authorization_url(ctx, unscoped, PROFILE)


@hookimpl
async def exchange_code(ctx: ProviderContext, request: AuthorizationRequest, code: str) -> Grant:
    credentials = oauth.to_credentials(await oauth.exchange(ctx, request, code, PROFILE))
    try:
        user = user_info((await _me(ctx, credentials.access_token)).json())
    except ProviderPermissionDenied:
        # An app without user:read still holds a valid grant; it cannot say whose.
        user = UserInfo()
    return Grant(credentials=credentials, user=user, granted_scopes=scopes.effective(credentials.scopes))


def _daily_reset(limits):
    # Zoom's daily limits reset at 00:00 UTC and say so only in a 429's Retry-After.
    if limits is not None and limits.daily_limit is not None and limits.reset_at is None:
        now = datetime.now(timezone.utc)
        limits.reset_at = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return limits


@hookimpl
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    credentials = await connection.credentials()
    response = await _me(ctx, credentials.access_token)
    granted = scopes.effective(credentials.scopes) if credentials.scopes else None
    have = set(granted if granted is not None else connection.granted_scopes)
    settings: ZoomSettings = connection.settings
    recommendations = []
    if settings.attendance_tracking.enabled and scopes.REPORT_READ not in have:
        recommendations.append("Attendance tracking is on but Zoom did not grant report:read:admin: "
                               "reconnect with reports.read as a Zoom admin")
    if settings.auto_create_meetings and scopes.MEETING_WRITE not in have:
        recommendations.append("Automatic meeting creation is on but Zoom did not grant meeting:write: "
                               "reconnect with meetings.write")
    return ConnectionReport(
        granted_scopes=granted,
        api_limits=_daily_reset(api_limits(response.headers)),
        account=user_info(response.json()),
        recommendations=tuple(recommendations),
    )


@hookimpl
async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    return await push.subscribe(ctx, connection, request)


@hookimpl
async def receive(ctx: ProviderContext, request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    return await push.receive(ctx, request, subscriptions)


@hookimpl
def sync(ctx: ProviderContext, connection: Connection):
    return ZoomMeetings(ctx, connection)


EVENT_CHANGES = ("eventCreated", "eventUpdated", "eventDeleted")


def wants_sync(settings: ZoomSettings, notification: Notification) -> bool:
    """Whether an event change means meeting work for an integration with ``settings``:
    a new event of the selected types to give a meeting (``autoCreateMeetings``), an
    event with a Zoom meeting to follow (patched, or deleted when it leaves the types),
    a deleted event of the selected types. The run decides the rest; a change missed
    here is still done by the next scheduled run (the engine reads the change log)."""
    if not settings.auto_sync or notification.kind not in EVENT_CHANGES:
        return False
    data = notification.data
    selected = not settings.event_types or (data.get("type") or "") in settings.event_types
    if notification.kind == "eventDeleted":
        return selected  # the signal does not say whether it had a meeting
    has_meeting = (data.get("meeting") or {}).get("provider") == "zoom"
    return has_meeting or (settings.auto_create_meetings and selected)


@hookimpl
async def notify(ctx: ProviderContext, notification: Notification) -> None:
    # Meetings follow events through sync runs; an event change asks for one soon
    # rather than waiting for the schedule. Raising leaves the signal in the outbox,
    # broadcast again later: a request is idempotent (one waiting run per integration).
    if notification.kind not in EVENT_CHANGES or ctx.syncs is None:
        return
    for connection in await ctx.syncs.integrations(notification.org_id):
        if wants_sync(connection.settings, notification):
            event_id = notification.data.get("id")
            await ctx.syncs.request(connection, reason=f"{notification.kind} {event_id}")


@hookimpl
async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    credentials = await connection.credentials()
    # Revoking the access token deauthorizes the app for the user: the refresh token dies too.
    revoked = await oauth.revoke(ctx, credentials.access_token, PROFILE, hint="access_token")
    notes = () if revoked else (
        "Zoom did not confirm the revocation; remove the app from the Zoom account "
        "(App Marketplace > Manage > Added Apps) to be sure",
    )
    return CleanupReport(tokens_revoked=revoked, notes=notes)
