"""Google Calendar provider for axhub."""

from __future__ import annotations

from urllib.parse import quote


from axhub import (
    CleanupReport,
    Connection,
    ConnectionReport,
    Endpoint,
    Grant,
    ProviderContext,
    ProviderInfo,
    Scope,
    UserInfo,
    hookimpl,
    oauth,
    remove_created,
)

from . import push
from .calendar import GoogleCalendar
from .errors import google_error
from .settings import GoogleSettings

__version__ = "0.1.0"

CALENDAR_READ = "https://www.googleapis.com/auth/calendar.readonly"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
# Who granted access (userinfo); always asked along the calendar scopes.
IDENTITY = ("openid", "email", "profile")

PROFILE = oauth.OAuthProfile(
    revoke_endpoint="revoke",
    # offline + consent: Google returns a refresh token only on a consented offline grant.
    authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
)



INFO = ProviderInfo(
    oauth2=PROFILE,  # the standard refresh (axhub.oauth_hooks); the other OAuth hooks are Google's own
    slug="google",
    name="Google Calendar",
    type="calendar",
    description="Two-way sync between Attendance-X events and a Google Calendar.",
    scopes=(
        Scope("calendar.read", (CALENDAR_READ,), ("read_calendar",), "Read the calendar's events"),
        Scope("calendar.write", (CALENDAR_EVENTS,), ("write_calendar",), "Create and edit events"),
        Scope("events.manage", (CALENDAR_EVENTS,), ("manage_events",), "Delete and manage events the hub created"),
    ),
    default_scopes=("calendar.read", "calendar.write", "events.manage"),
    settings_type=GoogleSettings,
    capabilities=("oauth", "pkce", "refresh", "revoke", "calendar_sync", "push"),
    endpoints={
        "authorize": Endpoint("https://accounts.google.com/o/oauth2/v2/auth", "/o/oauth2/v2/auth"),
        "token": Endpoint("https://oauth2.googleapis.com/token", "/token"),
        "revoke": Endpoint("https://oauth2.googleapis.com/revoke", "/revoke"),
        "userinfo": Endpoint("https://openidconnect.googleapis.com/v1/userinfo", "/v1/userinfo"),
        "api": Endpoint("https://www.googleapis.com/calendar/v3", "/calendar/v3"),
        "batch": Endpoint("https://www.googleapis.com/batch/calendar/v3", "/batch/calendar/v3"),
    },
    sandbox="axhub_google.sandbox:create_app",
    sandbox_client=("axhub-sandbox-google", "sandbox-secret-google"),
    docs_url="https://developers.google.com/calendar/api/v3/reference",
    # Calendar API usage limits: 1,000,000 queries a day per project (the default quota).
    daily_quota=1_000_000,
)


@hookimpl
def provider_info() -> ProviderInfo:
    return INFO


@hookimpl
def authorize(ctx: ProviderContext, request) -> str:
    from axhub import AuthorizationRequest

    scoped = AuthorizationRequest(
        state=request.state,
        redirect_uri=request.redirect_uri,
        provider_scopes=(*IDENTITY, *request.provider_scopes),
        code_verifier=request.code_verifier,
    )
    return oauth.authorization_url(ctx, scoped, PROFILE)


@hookimpl
async def exchange_code(ctx: ProviderContext, request, code: str) -> Grant:
    token = await oauth.exchange(ctx, request, code, PROFILE)
    credentials = oauth.to_credentials(token)
    response = await ctx.call("GET", ctx.endpoint("userinfo"), token=credentials.access_token, errors=google_error)
    me = response.json()
    return Grant(
        credentials=credentials,
        user=UserInfo(id=me.get("sub"), email=me.get("email"), name=me.get("name"), avatar=me.get("picture")),
        granted_scopes=credentials.scopes,
    )


@hookimpl
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    # events.list works with either calendar scope (calendars.get needs the broad one).
    token = await connection.access_token()
    calendar = connection.settings.calendar_id
    response = await ctx.call("GET", f"{ctx.endpoint('api')}/calendars/{quote(calendar, safe='@.')}/events",
                              token=token, params={"maxResults": 1}, errors=google_error)
    body = response.json()
    return ConnectionReport(recommendations=(f"Calendar \"{body.get('summary', calendar)}\" is reachable",))


@hookimpl
def sync(ctx: ProviderContext, connection: Connection):
    return GoogleCalendar(ctx, connection)


@hookimpl
async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    # Exactly what the hub created: the events that carry an Attendance-X id.
    calendar = GoogleCalendar(ctx, connection)
    removed, notes = await remove_created(calendar, calendar.ours, "Google Calendar")
    credentials = await connection.credentials()
    # Revoking the refresh token revokes the whole grant, access tokens included.
    revoked = await oauth.revoke(ctx, credentials.refresh_token or credentials.access_token, PROFILE)
    return CleanupReport(tokens_revoked=revoked, events_removed=removed, notes=notes)


# Push (docs/push.md): a channel per synced calendar, verified on every notification.
@hookimpl
async def subscribe(ctx: ProviderContext, connection: Connection, request):
    return await push.watch(ctx, connection, request)


@hookimpl
async def renew(ctx: ProviderContext, connection: Connection, subscription, request):
    return await push.renew(ctx, connection, subscription, request)


@hookimpl
async def unsubscribe(ctx: ProviderContext, connection: Connection, subscription) -> None:
    await push.stop(ctx, connection, subscription)


@hookimpl
async def receive(request, subscriptions):
    return await push.receive(request, subscriptions)
