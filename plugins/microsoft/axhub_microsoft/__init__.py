"""Microsoft 365 provider for axhub: Outlook calendar, Teams meetings and channel messages
through Microsoft Graph, signed in with the Microsoft identity platform (v2.0)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import msgspec

from axhub import (
    AuthorizationRequest,
    CleanupReport,
    Connection,
    ConnectionReport,
    Credentials,
    Delivery,
    DeliveryOutcome,
    Endpoint,
    Grant,
    Notification,
    Policy,
    ProviderContext,
    ProviderError,
    ProviderInfo,
    Scope,
    UserInfo,
    api_limits,
    hookimpl,
    notifications,
    oauth,
    remove_created,
)

from .graph import IDENTITY, at_tenant, first_line, graph_error, normalise_scopes, tenant_of
from .settings import MicrosoftSettings

__version__ = "0.1.0"

CALENDARS_READ = "Calendars.Read"
CALENDARS_READWRITE = "Calendars.ReadWrite"
ONLINE_MEETINGS = "OnlineMeetings.ReadWrite"
CHANNEL_MESSAGE_SEND = "ChannelMessage.Send"
MAILBOX_SETTINGS = "MailboxSettings.ReadWrite"
KNOWN_SCOPES = (*IDENTITY, CALENDARS_READ, CALENDARS_READWRITE, ONLINE_MEETINGS, CHANNEL_MESSAGE_SEND, MAILBOX_SETTINGS)

PROFILE = oauth.OAuthProfile(
    # No revocation endpoint: the identity platform cannot revoke one refresh token.
    revoke_endpoint=None,
    client_auth="client_secret_post",
    pkce=True,
    # select_account: whoever connects the organisation's calendar picks the right account.
    authorize_params={"response_mode": "query", "prompt": "select_account"},
    # interaction_required (MFA, Conditional Access) also needs the user back at the consent page.
    dead_grant=frozenset({"invalid_grant", "interaction_required"}),
    fix_token_response=first_line,
)



LOGIN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"

INFO = ProviderInfo(
    slug="microsoft",
    name="Microsoft 365",
    type="calendar",
    description="Two-way sync with an Outlook calendar, Teams meetings for events, and Teams channel notifications.",
    scopes=(
        Scope("calendar.read", (CALENDARS_READ,), ("read_calendar",), "Read the calendar's events"),
        Scope("calendar.write", (CALENDARS_READWRITE,), ("write_calendar",), "Create and edit events"),
        Scope("events.manage", (CALENDARS_READWRITE,), ("manage_events",), "Delete and manage events the hub created"),
        Scope("meetings.create", (ONLINE_MEETINGS,), ("create_meetings",), "Create Teams meetings and set their options"),
        Scope("teams.messages", (CHANNEL_MESSAGE_SEND,), ("send_messages",), "Post notifications to a Teams channel"),
        # Only to add the Attendance-X category, in outlookSettings.categoryColor, to the
        # user's colour list; events carry the category without it.
        Scope("calendar.categories", (MAILBOX_SETTINGS,), ("write_calendar",), "Add the Attendance-X colour category to Outlook"),
    ),
    default_scopes=("calendar.read", "calendar.write", "events.manage"),
    settings_type=MicrosoftSettings,
    capabilities=("oauth", "pkce", "refresh", "calendar_sync", "meetings", "notify"),
    endpoints={
        "authorize": Endpoint(f"{LOGIN}/authorize", "/{tenant}/oauth2/v2.0/authorize"),
        "token": Endpoint(f"{LOGIN}/token", "/{tenant}/oauth2/v2.0/token"),
        "graph": Endpoint("https://graph.microsoft.com/v1.0", "/v1.0"),
    },
    sandbox="axhub_microsoft.sandbox:create_app",
    sandbox_client=("axhub-sandbox-microsoft", "sandbox-secret-microsoft"),
    docs_url="https://learn.microsoft.com/graph/api/overview?view=graph-rest-1.0",
)


def _tidy(credentials: Credentials) -> Credentials:
    return msgspec.structs.replace(credentials, scopes=normalise_scopes(credentials.scopes, KNOWN_SCOPES))


async def _me(ctx: ProviderContext, token: str) -> tuple[httpx.Response, UserInfo]:
    response = await ctx.call(
        "GET", f"{ctx.endpoint('graph')}/me", token=token, errors=graph_error,
        params={"$select": "id,displayName,mail,userPrincipalName"},
    )
    me = response.json()
    # Personal accounts may have no mail; the UPN is then their sign-in address. Graph's
    # user has no picture URL (only the bytes at /me/photo/$value): no avatar.
    user = UserInfo(id=me.get("id"), email=me.get("mail") or me.get("userPrincipalName"), name=me.get("displayName"))
    return response, user


@hookimpl
def provider_info() -> ProviderInfo:
    return INFO


@hookimpl
def authorize(ctx: ProviderContext, request: AuthorizationRequest) -> str:
    scoped = msgspec.structs.replace(request, provider_scopes=tuple(dict.fromkeys((*IDENTITY, *request.provider_scopes))))
    return oauth.authorization_url(at_tenant(ctx, tenant_of(ctx)), scoped, PROFILE)


@hookimpl
async def exchange_code(ctx: ProviderContext, request: AuthorizationRequest, code: str) -> Grant:
    tenant = tenant_of(ctx)
    token = await oauth.exchange(at_tenant(ctx, tenant), request, code, PROFILE)
    # Refresh at the authority that issued the grant, even if the operator changes the tenant later.
    credentials = _tidy(oauth.to_credentials(token, extra={"tenant": tenant}))
    _, user = await _me(ctx, credentials.access_token)
    return Grant(credentials=credentials, user=user, granted_scopes=credentials.scopes)


@hookimpl
async def refresh(ctx: ProviderContext, credentials: Credentials) -> Credentials:
    # Microsoft rotates the refresh token on every refresh; axhub.oauth keeps the new one.
    tenant = credentials.extra.get("tenant") or tenant_of(ctx)
    return _tidy(await oauth.refresh(at_tenant(ctx, tenant), credentials, PROFILE))


async def _check_calendar(ctx: ProviderContext, connection: Connection, token: str) -> tuple[list[str], httpx.Response]:
    settings: MicrosoftSettings = connection.settings
    calendar = settings.calendar_id
    path = "/me/calendar" if calendar == "primary" else f"/me/calendars/{quote(calendar, safe='')}"
    response = await ctx.call(
        "GET", f"{ctx.endpoint('graph')}{path}", token=token, errors=graph_error,
        params={"$select": "id,name,canEdit,allowedOnlineMeetingProviders"},
    )
    body = response.json()
    notes = [f"Calendar \"{body.get('name', calendar)}\" is reachable"]
    if body.get("canEdit") is False:
        notes.append("The calendar is read-only for this account: events cannot be written to it")
    if settings.teams_integration.enabled and "teamsForBusiness" not in (body.get("allowedOnlineMeetingProviders") or []):
        notes.append("Teams meetings are not available on this calendar (personal account or no Teams licence): "
                     "turn teamsIntegration off or connect a work account")
    return notes, response


def _throttle_note(responses: list[httpx.Response]) -> str | None:
    # Graph sends no remaining-count headers; past 80% of an app's limit it sends this one.
    used = []
    for response in responses:
        try:
            used.append(float(response.headers["x-ms-throttle-limit-percentage"]))
        except (KeyError, ValueError):
            continue
    if not used:
        return None
    return f"Microsoft Graph reports this app at {max(used):.0%} of its throttling limit; sync less often"


@hookimpl
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    credentials = await connection.credentials()
    granted = normalise_scopes(credentials.scopes or connection.granted_scopes, KNOWN_SCOPES)
    response, account = await _me(ctx, credentials.access_token)
    notes: list[str] = []
    responses = [response]
    if {CALENDARS_READ, CALENDARS_READWRITE} & set(granted):
        calendar_notes, calendar = await _check_calendar(ctx, connection, credentials.access_token)
        notes.extend(calendar_notes)
        responses.append(calendar)
    throttled = _throttle_note(responses)
    if throttled:
        notes.append(throttled)
    settings: MicrosoftSettings = connection.settings
    channels = [settings.teams_channel, settings.teams_channels.alerts, settings.teams_channels.reports]
    if any(channels) and CHANNEL_MESSAGE_SEND not in granted:
        notes.append("teamsChannel is set but the teams.messages scope is not granted: reconnect with it")
    if any(channels) and not any(settings.delivers(k) for k in notifications.NOTIFICATION_TYPES):
        notes.append("A Teams channel is set but no notification type is enabled: nothing will be posted")
    if settings.outlook_settings.category_color != "none" and MAILBOX_SETTINGS not in granted:
        notes.append("outlookSettings.categoryColor needs the calendar.categories scope to colour the Attendance-X "
                     "category; without it events carry the category uncoloured")
    if settings.teams_integration.enabled and ONLINE_MEETINGS not in granted:
        notes.append("Teams meeting options (defaultMeetingSettings) need the meetings.create scope")
    return ConnectionReport(
        granted_scopes=granted or None,
        api_limits=api_limits(response.headers),
        account=account,
        recommendations=tuple(notes),
    )


@hookimpl
def sync(ctx: ProviderContext, connection: Connection):
    from .calendar import OutlookCalendar

    return OutlookCalendar(ctx, connection)


@hookimpl
async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    from .calendar import OutlookCalendar

    removed, notes = 0, ()
    if CALENDARS_READWRITE in normalise_scopes(connection.granted_scopes, KNOWN_SCOPES):
        # Exactly what the hub created: the events whose transactionId it stamped.
        calendar = OutlookCalendar(ctx, connection)
        removed, notes = await remove_created(calendar, calendar.ours, "Outlook")
    # Deliberately no revocation call: there is nothing to revoke one grant with, and
    # /me/revokeSignInSessions would sign the user out of every application.
    return CleanupReport(
        tokens_revoked=False,
        events_removed=removed,
        notes=(
            *notes,
            "Microsoft offers no endpoint to revoke a single refresh token: axhub forgot the tokens; "
            "the last access token stays valid until it expires (typically 60 to 90 minutes)",
            "To withdraw the app's consent, remove it at https://myapps.microsoft.com (work or school "
            "account) or https://account.live.com/consent/Manage (personal account), or ask an admin "
            "to delete the grant in Microsoft Entra ID",
        ),
    )


@hookimpl
async def notify(ctx: ProviderContext, notification: Notification) -> None:
    """Store one rendered Teams message per Microsoft integration of the organisation
    that names a channel for this kind of notification; ``deliver`` posts it."""
    from . import teams

    # Which kinds, whose integrations, in which words: the core's, shared with Slack.
    audience = await notifications.audience(ctx, notification)
    if audience is None:
        return
    for connection in audience.connections:
        settings = connection.settings
        message = teams.build(notification, settings, audience.formatter, audience.locale)
        if message is None:
            continue
        # One channel, or each configured one for a test notice.
        routed = settings.channel_for(notifications.KINDS[notification.kind][0])
        configured = (settings.teams_channel, settings.teams_channels.alerts, settings.teams_channels.reports)
        for channel in notifications.destinations(notification.kind, routed, configured):
            one = msgspec.structs.replace(message, team_id=channel.team_id, channel_id=channel.channel_id)
            key = notification.id if channel == routed else f"{notification.id}:{channel.channel_id}"
            await ctx.deliveries.enqueue(
                connection, target=channel.channel_id, kind=notification.kind, payload=msgspec.json.encode(one),
                key=key, subject=notification.data.get("eventId"),
                policy=Policy(max_retries=5, backoff_multiplier=2.0),
            )


@hookimpl
async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
    """Post a stored Teams message; say what Graph said."""
    from . import teams

    message = msgspec.json.decode(delivery.payload, type=teams.Message)
    try:
        result = await teams.send(ctx, connection, message)
    except ProviderError as exc:
        # A 4xx is Graph's last word (no permission, no such team or channel, a message it
        # refuses): no retry changes it. No answer, or a 5xx, may pass.
        return notifications.refused(exc, final=exc.status is not None and 400 <= exc.status < 500)
    return DeliveryOutcome(status="delivered", http_status=201, excerpt=msgspec.json.encode(result).decode()[:500])
