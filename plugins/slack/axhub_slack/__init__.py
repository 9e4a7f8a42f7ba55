"""Slack provider for axhub: installs the Attendance-X app in a workspace (OAuth v2, bot
token), tests it with ``auth.test`` (and asks Slack which configured channels the bot is
in: :mod:`axhub_slack.channels`), revokes it with ``auth.revoke``, and posts the
organisation's reminders, alerts, reports and system notices (``notify`` stores each
message, ``deliver`` posts it; the hub retries)."""

from __future__ import annotations

import logging
from typing import Any

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
    InboundAnswer,
    InboundRequest,
    InvalidCredentials,
    Notification,
    Policy,
    ProviderContext,
    ProviderError,
    ProviderInfo,
    Scope,
    SubscribeRequest,
    Subscribed,
    Subscription,
    SubscriptionLookup,
    UserInfo,
    api_limits,
    hookimpl,
    notifications,
    oauth,
)

from . import api, messages, push
from .channels import recommendations as channel_advice
from .settings import SlackSettings

__version__ = "0.1.0"

log = logging.getLogger("axhub.slack")



INFO = ProviderInfo(
    # The profile gives the standard refresh (axhub.oauth_hooks): only apps with token
    # rotation get refresh tokens (12-hour access tokens); the core never refreshes a
    # long-lived bot token, which has no expiry.
    oauth2=api.PROFILE,
    slug="slack",
    name="Slack",
    type="communication",
    description="Event reminders, attendance alerts and reports posted to a Slack workspace.",
    scopes=(
        Scope("messages.send", ("chat:write",), ("send_messages",),
              "Post messages as the app in channels it is a member of"),
        Scope("messages.public", ("chat:write.public",), ("post_public_channels",),
              "Post in public channels without being invited first"),
        # Both kinds: the connection test checks the bot is in the configured channels, public or private.
        Scope("channels.read", ("channels:read", "groups:read"), ("read_channels",),
              "See the workspace's public channels, and the private ones the app is in"),
        Scope("users.read", ("users:read", "users:read.email"), ("read_users",),
              "Read members and their e-mail addresses (mentions, who installed the app)"),
        Scope("webhook", ("incoming-webhook",), ("post_webhook",),
              "An incoming webhook to the channel the installer picks"),
    ),
    default_scopes=("messages.send", "channels.read", "users.read", "webhook"),
    settings_type=SlackSettings,
    capabilities=("oauth", "refresh", "revoke", "notify", "push"),
    endpoints={
        "authorize": Endpoint("https://slack.com/oauth/v2/authorize", "/oauth/v2/authorize"),
        "token": Endpoint("https://slack.com/api/oauth.v2.access", "/api/oauth.v2.access"),
        "api": Endpoint("https://slack.com/api", "/api"),
        # Incoming webhooks post to https://hooks.slack.com/services/…; the sandbox answers them too.
        "hooks": Endpoint("https://hooks.slack.com", ""),
    },
    sandbox="axhub_slack.sandbox:create_app",
    sandbox_client=("axhub-sandbox-slack", "sandbox-secret-slack"),
    docs_url="https://docs.slack.dev/reference/methods",
)


def installation(token: dict[str, Any]) -> dict[str, Any]:
    """What oauth.v2.access says about the installation, kept (encrypted) with the token:
    the incoming webhook URL is a secret that posts without any token, and the team and
    bot user ids are what later calls need. The bot token itself is ``access_token``."""
    extra: dict[str, Any] = {}
    for key in ("bot_user_id", "app_id", "is_enterprise_install"):
        if token.get(key) is not None:
            extra[key] = token[key]
    for key in ("team", "enterprise"):
        if isinstance(token.get(key), dict):
            extra[key] = {k: token[key].get(k) for k in ("id", "name")}
    authed = token.get("authed_user")
    if isinstance(authed, dict):
        extra["authed_user_id"] = authed.get("id")
        if authed.get("access_token"):  # only when a user_scope was asked
            extra["user_token"] = {k: authed.get(k) for k in ("access_token", "scope", "token_type")}
    hook = token.get("incoming_webhook")
    if isinstance(hook, dict) and hook.get("url"):
        extra["incoming_webhook"] = {k: hook.get(k) for k in ("url", "channel", "channel_id", "configuration_url")}
    return extra


async def installer(ctx: ProviderContext, credentials: Credentials, user_id: str | None) -> UserInfo:
    """Who installed the app: ``users.info`` on ``authed_user.id`` when ``users:read`` was
    granted (the e-mail needs ``users:read.email``), else just the Slack user id."""
    if not user_id:
        return UserInfo()
    if "users:read" not in credentials.scopes:
        return UserInfo(id=user_id)
    try:
        response = await api.call(ctx, "users.info", credentials.access_token, http="GET", params={"user": user_id})
    except InvalidCredentials:
        raise
    except ProviderError as exc:
        # The grant is good; a profile we cannot read now must not cost the user a new consent.
        log.warning("slack: users.info failed after install (%s); keeping the user id only", exc.reason)
        return UserInfo(id=user_id)
    user = response.json().get("user") or {}
    profile = user.get("profile") or {}
    return UserInfo(
        id=user.get("id") or user_id,
        email=profile.get("email"),
        name=user.get("real_name") or profile.get("real_name") or user.get("name"),
        avatar=profile.get("image_192") or profile.get("image_72"),
    )


@hookimpl
def provider_info() -> ProviderInfo:
    return INFO


@hookimpl
def authorize(ctx: ProviderContext, request: AuthorizationRequest) -> str:
    return oauth.authorization_url(ctx, request, api.PROFILE)


@hookimpl
async def exchange_code(ctx: ProviderContext, request: AuthorizationRequest, code: str) -> Grant:
    token = await oauth.exchange(ctx, request, code, api.PROFILE)
    extra = installation(token)
    credentials = oauth.to_credentials(token, extra=extra)
    user = await installer(ctx, credentials, extra.get("authed_user_id"))
    return Grant(credentials=credentials, user=user, granted_scopes=credentials.scopes)


async def recommendations(ctx: ProviderContext, settings: SlackSettings, credentials: Credentials,
                          me: dict[str, Any], scopes: set[str]) -> list[str]:
    bot = me.get("user") or "the app"
    out = [f"Connected to the Slack workspace \"{me.get('team', '?')}\" as @{bot}"]
    hook = credentials.extra.get("incoming_webhook") or {}
    webhook = settings.webhook_url or hook.get("url")
    channels = settings.configured_channels()
    if "chat:write" not in scopes and not webhook:
        out.append("Nothing can be posted: grant chat:write (scope messages.send) or set webhookUrl")
    # Where a refused channel's messages go instead (``messages.send`` falls back to the webhook).
    fallback = None if not webhook else (hook.get("channel") if not settings.webhook_url else "webhookUrl's channel")
    out += await channel_advice(ctx, credentials.access_token, settings, scopes, bot, fallback)
    if not channels:
        if hook.get("channel") and not settings.webhook_url:
            out.append(f"Notifications go to {hook['channel']} through the incoming webhook created at install")
        elif not webhook:
            out.append("Set defaultChannel (or channels.default): no channel is configured for notifications")
    if not any(settings.delivers(k) for k in notifications.NOTIFICATION_TYPES):
        out.append("No notification type is enabled: nothing will be posted")
    if settings.user_mentions.enabled and "users:read.email" not in scopes:
        out.append("Mentions find people by e-mail and need users:read.email: reconnect with the users.read scope")
    return out


@hookimpl
async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
    credentials = await connection.credentials()
    response = await api.call(ctx, "auth.test", credentials.access_token)
    # Slack lists the token's scopes in a header on every Web API answer.
    header = response.headers.get("x-oauth-scopes")
    granted = tuple(s.strip() for s in header.split(",") if s.strip()) if header is not None else None
    scopes = set(granted if granted is not None else connection.granted_scopes)
    return ConnectionReport(
        granted_scopes=granted,
        api_limits=api_limits(response.headers),
        recommendations=tuple(await recommendations(ctx, connection.settings, credentials, response.json(), scopes)),
    )


@hookimpl
async def disconnect(ctx: ProviderContext, connection: Connection) -> CleanupReport:
    try:
        credentials = await connection.credentials()
    except InvalidCredentials as exc:
        return CleanupReport(notes=(f"Slack had already ended the grant ({exc.reason}): nothing left to revoke",))
    try:
        response = await api.call(ctx, "auth.revoke", credentials.access_token)
    except InvalidCredentials as exc:
        return CleanupReport(notes=(f"Slack no longer accepts the token ({exc.reason}): nothing left to revoke",))
    notes = ["auth.revoke deactivated the bot user and removed it from its channels; the app stays "
             "installed in the workspace until an admin removes it (Slack: Manage apps)"]
    hook = credentials.extra.get("incoming_webhook") or {}
    if hook.get("url"):
        notes.append(f"Slack does not say that auth.revoke disables the incoming webhook to "
                     f"{hook.get('channel') or 'its channel'}: remove the app from the workspace to be sure")
    return CleanupReport(tokens_revoked=bool(response.json().get("revoked")), notes=tuple(notes))


@hookimpl
async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    return await push.subscribe(ctx, connection, request)


@hookimpl
async def unsubscribe(ctx: ProviderContext, connection: Connection, subscription: Subscription) -> None:
    await push.unsubscribe(subscription)


@hookimpl
async def receive(ctx: ProviderContext, request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    return await push.receive(ctx, request, subscriptions)


_directory = messages.Directory()
_pacer = messages.Pacer()
# Slack's own refusals that no retry will change (a channel, a scope, the message itself).
FINAL = frozenset({"channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "no_text",
                   "invalid_blocks", "invalid_blocks_format", "missing_scope", "no_channel", "restricted_action"})


@hookimpl
async def notify(ctx: ProviderContext, notification: Notification) -> None:
    """Store one rendered message per Slack integration of the organisation that wants
    this kind of notification; the hub's delivery worker posts it (``deliver``)."""
    # Which kinds, whose integrations, in which words: the core's, shared with Teams.
    audience = await notifications.audience(ctx, notification)
    if audience is None:
        return
    for connection in audience.connections:
        settings: SlackSettings = connection.settings
        emails = messages.people(notification.data, settings)
        mentions: list[str] = []
        if emails:
            credentials = await connection.credentials()
            try:
                mentions = await _directory.users(ctx, connection, credentials.access_token, emails)
            except ProviderError as exc:  # nobody mentioned beats no message
                log.warning("slack: users.lookupByEmail failed (%s); posting without mentions", exc.reason)
        message = messages.build(notification, settings, audience.formatter, audience.locale, mentions)
        if message is None:
            continue
        # One channel, or each configured one for a test notice (None: the install webhook).
        for channel in notifications.destinations(notification.kind, message.channel, settings.configured_channels()):
            one = msgspec.structs.replace(message, channel=channel)
            key = notification.id if channel == message.channel else f"{notification.id}:{channel}"
            await ctx.deliveries.enqueue(
                connection, target=channel or "incoming-webhook", kind=notification.kind,
                payload=msgspec.json.encode(one), key=key,
                subject=notification.data.get("eventId"), policy=Policy(max_retries=5, backoff_multiplier=2.0),
            )


@hookimpl
async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
    """Post a stored message; say what Slack said."""
    message = msgspec.json.decode(delivery.payload, type=messages.Message)
    if message.channel:
        await _pacer.turn(connection.id, message.channel)
    try:
        result = await messages.send(ctx, connection, message)
    except ProviderError as exc:
        return notifications.refused(exc, final=exc.reason in FINAL or (exc.status is not None and 400 <= exc.status < 500))
    return DeliveryOutcome(status="delivered", http_status=200, excerpt=msgspec.json.encode(result).decode()[:500])
