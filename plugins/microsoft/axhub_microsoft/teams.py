"""Teams channel notifications: what a hub notification looks like in a channel, and
how it gets there.

The words are the core's (``axhub.notifications``): the same kinds, settings and
templates as Slack's, filled in the organisation's language and time zone. Teams takes
HTML, so user data is HTML-escaped (the template's own text is the organisation's and
may hold markup on purpose, as in Slack). A message goes out with ``POST
/teams/{team-id}/channels/{channel-id}/messages`` (delegated ``ChannelMessage.Send``: it
is posted as the user who connected), body ``{"body": {"contentType": "html",
"content": …}}``.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

import msgspec

from axhub import Connection, Notification, ProviderContext, notifications, templates

from .graph import graph_error
from .settings import MicrosoftSettings


def escape(text: str) -> str:
    return html.escape(text, quote=True)


class Message(msgspec.Struct):
    """What is stored for delivery: rendered once, posted as stored on every attempt."""

    kind: str
    team_id: str
    channel_id: str
    body: dict[str, Any]  # the chatMessage Graph gets
    # People mentioned (none yet: a Teams mention needs the person's directory id); the
    # hub's messaging statistics read this field.
    mentions: list[str] = []


def build(notification: Notification, settings: MicrosoftSettings, fmt: templates.Formatter,
          locale: str) -> Message | None:
    """The message for ``notification``, or None when these settings do not want it or
    name no channel for it."""
    composed = notifications.compose(notification, settings, fmt, locale, escape)
    if composed is None:
        return None
    channel = settings.channel_for(composed.type)
    if channel is None:
        return None
    # Line breaks in a template are the organisation's: HTML needs them spelled out.
    content = "<p>" + composed.headline.replace("\r\n", "\n").replace("\n", "<br>") + "</p>"
    if composed.details:
        content += "<p><em>" + " | ".join(composed.details) + "</em></p>"
    return Message(notification.kind, channel.team_id, channel.channel_id,
                   {"body": {"contentType": "html", "content": content}})


async def send(ctx: ProviderContext, connection: Connection, message: Message) -> dict[str, Any]:
    """Post ``message``: the new chatMessage's ``id`` and ``webUrl``, or the
    :class:`axhub.ProviderError` Graph's answer means (429 → ``RateLimited`` with its
    ``Retry-After``)."""
    token = await connection.access_token()
    url = (f"{ctx.endpoint('graph')}/teams/{quote(message.team_id, safe='')}"
           f"/channels/{quote(message.channel_id, safe='')}/messages")
    response = await ctx.call("POST", url, token=token, json=message.body, errors=graph_error)
    body = response.json()
    return {"id": body.get("id"), "webUrl": body.get("webUrl")}
