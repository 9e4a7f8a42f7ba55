"""What a notification looks like in Slack, and how it gets there.

A notification of the hub (``eventReminder``, ``attendanceAlert``, ``weeklyReport``,
sync notices, ``integrationError``) becomes one message: the organisation's template
filled in its language and time zone (``axhub.notifications``, shared with Teams, over
``axhub.templates``), user data escaped for Slack
(``&``, ``<``, ``>``), people mentioned as ``<@U…>`` when ``userMentions`` asks for it,
Block Kit for the app and the same words as plain ``text`` for notifications and
screen readers. It goes out with ``chat.postMessage`` to the channel the settings name
for its kind; the installation's incoming webhook is the fallback when no channel is
set, or when Slack refuses the channel itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import msgspec

from axhub import Connection, Notification, ProviderContext, ProviderError, classify, notifications, templates

from . import api
from .settings import SlackSettings

# Slack refuses the channel itself (not the app): the incoming webhook may still reach its own.
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
LOOKUP_TTL = (3600.0, 600.0)  # seconds a found / not-found e-mail stays cached


def escape(text: str) -> str:
    """Slack's three control characters in user data (its mrkdwn would read them)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Message(msgspec.Struct):
    """What is stored for delivery: rendered once, sent as stored on every attempt."""

    kind: str
    channel: str | None
    text: str
    blocks: list[dict[str, Any]]
    mentions: list[str]


class Pacer:
    """Slack takes about one message per second per channel: attempts at the same
    channel wait their turn here instead of collecting 429s (which are still honoured)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._next: dict[tuple[str, str], float] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def turn(self, integration_id: str, channel: str) -> None:
        key = (integration_id, channel)
        async with self._locks.setdefault(key, asyncio.Lock()):
            wait = self._next.get(key, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next[key] = time.monotonic() + self.interval


def people(data: dict[str, Any], settings: SlackSettings) -> list[str]:
    """E-mails to mention (``userMentions``): the core's rule, shared by every chat."""
    return notifications.people(data, settings.user_mentions)


def build(notification: Notification, settings: SlackSettings, fmt: templates.Formatter, locale: str,
          mentions: list[str]) -> Message | None:
    """The message for ``notification``, or None when these settings do not want it: the
    words are the core's (``axhub.notifications.compose``), the layout Slack's."""
    composed = notifications.compose(notification, settings, fmt, locale, escape)
    if composed is None:
        return None
    tags = " ".join(f"<@{user}>" for user in mentions)
    text = f"{composed.headline} {tags}".strip()
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if composed.details:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "  |  ".join(composed.details)}]})
    return Message(notification.kind, settings.channel_for(composed.type), text, blocks, mentions)


class Directory:
    """``users.lookupByEmail`` with a cache: a reminder to fifty channels asks once per
    person. An unknown e-mail is remembered too, and simply not mentioned."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    async def users(self, ctx: ProviderContext, connection: Connection, token: str, emails: list[str]) -> list[str]:
        found = []
        for email in emails:
            key = (connection.id, email)
            hit = self._cache.get(key)
            if hit is None or hit[0] < time.monotonic():
                user_id = await self._lookup(ctx, token, email)
                self._cache[key] = (time.monotonic() + LOOKUP_TTL[0 if user_id else 1], user_id)
                hit = self._cache[key]
            if hit[1]:
                found.append(hit[1])
        return found

    @staticmethod
    async def _lookup(ctx: ProviderContext, token: str, email: str) -> str | None:
        try:
            response = await api.call(ctx, "users.lookupByEmail", token, http="GET", params={"email": email})
        except ProviderError as exc:
            if exc.reason in ("users_not_found", "user_not_found"):
                return None
            if exc.reason == "missing_scope":
                return None  # no users:read.email: the test_connection report says so
            raise
        return (response.json().get("user") or {}).get("id")


def webhook_url(ctx: ProviderContext, settings: SlackSettings, extra: dict[str, Any]) -> str | None:
    """The settings' webhook, else the one Slack created at install; in sandbox mode the
    sandbox stands in for hooks.slack.com."""
    url = settings.webhook_url or (extra.get("incoming_webhook") or {}).get("url")
    if url and ctx.sandbox:
        url = url.replace("https://hooks.slack.com", ctx.endpoint("hooks"), 1)
    return url


async def post_webhook(ctx: ProviderContext, url: str, message: Message) -> dict[str, Any]:
    def refused(response: httpx.Response) -> ProviderError:
        reason = response.text.strip() or f"http_{response.status_code}"
        return classify(response, reason=reason, message=f"Slack's incoming webhook answered {reason}")

    await ctx.call("POST", url, json={"text": message.text, "blocks": message.blocks}, errors=refused)
    return {"via": "incoming-webhook"}


async def send(ctx: ProviderContext, connection: Connection, message: Message) -> dict[str, Any]:
    """Post ``message``: ``{"via", "channel", "ts"}``, or the :class:`ProviderError` Slack
    gave (with ``reason`` its error: ``channel_not_found``, ``ratelimited``…)."""
    credentials = await connection.credentials()
    settings: SlackSettings = connection.settings
    hook = webhook_url(ctx, settings, credentials.extra)
    if message.channel is None or "chat:write" not in credentials.scopes:
        if hook is None:
            raise ProviderError("no channel is configured and the installation has no incoming webhook",
                                reason="no_channel")
        return await post_webhook(ctx, hook, message)
    try:
        response = await api.call(ctx, "chat.postMessage", credentials.access_token, params={
            "channel": message.channel, "text": message.text, "blocks": json.dumps(message.blocks),
            "unfurl_links": "false",
        })
    except ProviderError as exc:
        if exc.reason in CHANNEL_ERRORS and hook is not None:
            return {**await post_webhook(ctx, hook, message), "fallbackFrom": exc.reason}
        raise
    body = response.json()
    return {"via": "chat.postMessage", "channel": body.get("channel"), "ts": body.get("ts")}
