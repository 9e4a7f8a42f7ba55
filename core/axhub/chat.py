"""A chat provider's notification hooks from its three API calls: :class:`Chat`.

Every chat plugin's ``notify``, ``deliver`` and connection test do the same work on
``axhub.notifications``: find the organisation's integrations that want a kind, put it in
their words (templates, switches, routing of alerts and reports, a test notice to each
configured channel), mention people, store one durable message per channel, post it
later and say what the provider answered. Only the provider's calls differ: which
channels the app sees, how a person is mentioned, how a message is posted. A plugin
gives those to ``Chat`` and takes the hooks::

    CHAT = Chat(channels=channel_ids, post=post, mention=mention, escape=escape)
    notify, deliver, test_connection = CHAT.hooks()

Slack and Teams write their hooks on the same building blocks, for what a plain text
post cannot say (Block Kit, Adaptive Cards, incoming webhooks, per-channel pacing).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable, Mapping

import msgspec
import pluggy

from . import notifications, oauth_hooks
from .errors import ProviderError
from .provider import ProviderContext
from .types import Connection, ConnectionReport, Delivery, DeliveryOutcome, Notification

# The same marker as ``axhub.hookimpl`` (pluggy matches markers by project name); the
# package's __init__ stands outside the core's layers, so the core makes its own.
_hookimpl = pluggy.HookimplMarker("axhub")

# token → {channel name: channel id}
ChannelsCall = Callable[[ProviderContext, str], Awaitable[Mapping[str, str]]]
# token, channel id, text, idempotency key → the provider's answer (an httpx.Response)
PostCall = Callable[[ProviderContext, str, str, str, str], Awaitable[Any]]
# token, e-mail → how a message mentions that person (ProviderError: left out)
MentionCall = Callable[[ProviderContext, str, str], Awaitable[str | None]]


@dataclasses.dataclass(frozen=True)
class Chat:
    """``channels``, ``post`` and (optional) ``mention`` call the provider; ``escape``
    keeps user data (an event's title) from pinging a channel or reading as markup;
    ``policy`` (an ``axhub.deliveries.Policy``) sets a message's retries. The
    integration's settings are an ``axhub.notifications.ChatSettings``."""

    channels: ChannelsCall
    post: PostCall
    mention: MentionCall | None = None
    escape: Callable[[str], str] = lambda text: text
    policy: Any = None

    async def notify(self, ctx: ProviderContext, notification: Notification) -> None:
        """One stored message per channel of each integration that wants this kind; the
        hub's delivery worker sends it (``deliver``), retries it and logs every attempt."""
        audience = await notifications.audience(ctx, notification)
        for connection in audience.connections if audience else ():
            settings = connection.settings
            composed = notifications.compose(notification, settings, audience.formatter, audience.locale, self.escape)
            if composed is None:
                continue  # not a kind these settings want
            mentions = await self._mentions(ctx, connection, notification.data)
            text = " ".join([composed.headline, *mentions]) + "".join("\n" + line for line in composed.details)
            routed = settings.channel_for(composed.type)
            # One channel, or each configured one for a test notice (POST /test).
            for channel in notifications.destinations(notification.kind, routed, settings.configured_channels()):
                extra = {"policy": self.policy} if self.policy is not None else {}
                await ctx.deliveries.enqueue(connection, target=channel, kind=notification.kind,
                                             payload=json.dumps({"channel": channel, "text": text}).encode(),
                                             key=f"{notification.id}:{channel}",
                                             subject=notification.data.get("eventId"), **extra)

    async def _mentions(self, ctx: ProviderContext, connection: Connection, data: Mapping[str, Any]) -> list[str]:
        emails = notifications.people(data, connection.settings.user_mentions) if self.mention else []
        found = []
        for email in emails:
            try:
                handle = await self.mention(ctx, await connection.access_token(), email)
            except ProviderError:  # nobody mentioned beats no message
                handle = None
            if handle:
                found.append(handle)
        return found

    async def deliver(self, ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
        """Post a stored message to its channel; say what the provider answered."""
        message = json.loads(delivery.payload)
        token = await connection.access_token()
        try:
            channel_id = (await self.channels(ctx, token)).get(message["channel"])
            if channel_id is None:
                raise ProviderError(f"no channel {message['channel']}", reason="channel_not_found", status=404)
            # The message's id lets the provider drop a second copy after a lost answer.
            response = await self.post(ctx, token, channel_id, message["text"], delivery.id)
        except ProviderError as exc:
            # Throttled: again after its Retry-After; a 4xx is the provider's last word.
            return notifications.refused(exc, final=exc.status is not None and 400 <= exc.status < 500)
        return DeliveryOutcome(status="delivered", http_status=response.status_code, excerpt=response.text[:500])

    async def test_connection(self, ctx: ProviderContext, connection: Connection) -> ConnectionReport:
        """The standard test (``axhub.oauth_hooks``, when the provider declares ``oauth2``)
        and the channels the settings name that the app cannot see (a typo, not invited)."""
        credentials = await connection.credentials()
        if ctx.info.oauth2 is not None:
            report = await oauth_hooks.test_connection(ctx, connection, credentials=credentials)
        else:
            report = ConnectionReport(granted_scopes=credentials.scopes)
        seen = await self.channels(ctx, credentials.access_token)
        missing = tuple(f"The app sees no channel {c}: create it or add the app"
                        for c in connection.settings.configured_channels() if c not in seen)
        return msgspec.structs.replace(report, recommendations=report.recommendations + missing)

    def hooks(self) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
        """``notify``, ``deliver`` and ``test_connection`` as hook implementations: assign
        them to those names in the plugin's module, where pluggy finds hooks by name."""

        async def notify(ctx: ProviderContext, notification: Notification) -> None:
            await self.notify(ctx, notification)

        async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
            return await self.deliver(ctx, connection, delivery)

        async def test_connection(ctx: ProviderContext, connection: Connection) -> ConnectionReport:
            return await self.test_connection(ctx, connection)

        return _hookimpl(notify), _hookimpl(deliver), _hookimpl(test_connection)
