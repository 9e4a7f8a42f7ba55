"""Push channels of the Google sandbox: ``events.watch`` and ``channels.stop`` as Google
documents them, and notifications delivered to each channel's address with Google's
headers when the calendar changes (through the API or the ``/_control`` routes).

A watch answers the channel (``kind: api#channel``, ``id``, ``resourceId``,
``resourceUri``, ``token``, ``expiration`` in milliseconds, as a string) and is
followed by the ``sync`` message (number 1). Each change after that is an ``exists``
message with the next number; changes made by one request are one message. A channel
delivers nothing past its expiration. Google requires an https address; the sandbox
takes http too, but only on loopback (the hub beside it). Controls (``/_control/push``)
drop, duplicate or delay the next notifications and expire channels.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from email.utils import formatdate
from typing import Any

import httpx

from axhub.sandbox import Outgoing, pushable

from .sandbox_events import ApiError

log = logging.getLogger("axhub.sandbox.google")

MAX_TTL_MS = 7 * 86400 * 1000  # the sandbox's longest channel (and the default)
CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")  # what Google accepts as a channel id


class Channel:
    __slots__ = ("address", "expiration", "id", "number", "resource_id", "resource_uri", "token")

    def __init__(self, id: str, address: str, token: str | None, expiration: int, resource_id: str,
                 resource_uri: str) -> None:
        self.id, self.address, self.token, self.expiration = id, address, token, expiration
        self.resource_id, self.resource_uri, self.number = resource_id, resource_uri, 0

    def view(self) -> dict[str, Any]:
        out = {"kind": "api#channel", "id": self.id, "resourceId": self.resource_id, "resourceUri": self.resource_uri,
               "expiration": str(self.expiration)}
        if self.token is not None:
            out["token"] = self.token
        return out


class Push:
    def __init__(self) -> None:
        self.resource_id = secrets.token_urlsafe(20)  # the calendar's events, as Google names it
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the channels; not the controls a
        # test set, nor the notifications in flight.
        return {"resource_id": self.resource_id, "channels": self.channels, "stopped": self.stopped}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def reset(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.stopped: list[str] = []
        self.out = Outgoing()  # drop or duplicate the next notifications, delay each, the log
        self._pending: set[str] = set()

    # -- events.watch / channels.stop ----------------------------------------------------
    def watch(self, calendar_id: str, body: Any, base_uri: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "Parse Error", "parseError")
        channel_id, kind, address = body.get("id"), body.get("type"), body.get("address")
        if not isinstance(channel_id, str) or not CHANNEL_ID.fullmatch(channel_id):
            raise ApiError(400, "Invalid channel id.", "invalid")
        if kind not in ("web_hook", "webhook"):
            raise ApiError(400, f"Unknown channel type: {kind!r}.", "invalid")
        try:
            pushable(address, "address")
        except ValueError:
            raise ApiError(400, "WebHook callback must be HTTPS: " + str(address), "push.webhookUrlNotHttps") from None
        if channel_id in self.channels:
            raise ApiError(400, f"Channel id {channel_id} not unique", "channelIdNotUnique")
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise ApiError(400, "Invalid channel token.", "invalid")
        now = int(time.time() * 1000)
        wanted = body.get("expiration")
        try:
            expiration = int(wanted) if wanted is not None else now + MAX_TTL_MS
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid expiration.", "invalid") from None
        expiration = min(max(expiration, now + 1000), now + MAX_TTL_MS)  # Google shortens what is too long
        uri = f"{base_uri}/calendar/v3/calendars/{calendar_id}/events?alt=json"
        channel = Channel(channel_id, address, token, expiration, self.resource_id, uri)
        self.channels[channel_id] = channel
        self._send(channel, "sync")
        return channel.view()

    def stop(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "Parse Error", "parseError")
        channel = self.channels.get(body.get("id") or "")
        if channel is None or body.get("resourceId") != channel.resource_id:
            raise ApiError(404, f"Channel '{body.get('id')}' not found for project 'axhub-sandbox'", "notFound")
        del self.channels[channel.id]
        self.stopped.append(channel.id)

    # -- notifications -------------------------------------------------------------------
    def changed(self) -> None:
        """The calendar changed: one ``exists`` message per live channel, once the
        request that changed it is done (a request's many changes are one message)."""
        for channel in list(self.channels.values()):
            if channel.id not in self._pending:
                self._pending.add(channel.id)
                self.out.spawn(self._later(channel))

    async def _later(self, channel: Channel) -> None:
        await asyncio.sleep(0)
        self._pending.discard(channel.id)
        if self.channels.get(channel.id) is channel:
            await self._deliver(channel, "exists")

    def _send(self, channel: Channel, state: str) -> None:
        self.out.spawn(self._deliver(channel, state))

    async def _deliver(self, channel: Channel, state: str) -> None:
        if channel.expiration <= time.time() * 1000:
            self.channels.pop(channel.id, None)  # an expired channel is gone
            return
        channel.number += 1
        headers = {"X-Goog-Channel-ID": channel.id, "X-Goog-Message-Number": str(channel.number),
                   "X-Goog-Resource-ID": channel.resource_id, "X-Goog-Resource-State": state,
                   "X-Goog-Resource-URI": channel.resource_uri,
                   "X-Goog-Channel-Expiration": formatdate(channel.expiration / 1000, usegmt=True)}
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        if self.out.take("drop"):
            self.out.deliveries.append({"channel": channel.id, "number": channel.number, "state": state, "status": None,
                                    "dropped": True})
            return
        times = 2 if self.out.take("duplicate") else 1
        await self.out.pause()
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(times):
                try:
                    status = (await client.post(channel.address, headers=headers, content=b"")).status_code
                except httpx.HTTPError as exc:
                    status = None
                    log.info("sandbox push to %s failed: %s", channel.address, exc)
                self.out.deliveries.append({"channel": channel.id, "number": channel.number, "state": state,
                                        "status": status, "dropped": False})

    async def settle(self) -> None:
        """Wait for the notifications under way (tests read the deliveries after)."""
        await self.out.settle()

    # -- controls ------------------------------------------------------------------------
    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        self.out.configure(data)
        return self.describe()

    def expire(self, channel_id: str | None) -> int:
        expired = 0
        for channel in self.channels.values():
            if channel_id in (None, channel.id):
                channel.expiration = int(time.time() * 1000) - 1
                expired += 1
        return expired

    def describe(self) -> dict[str, Any]:
        return {"channels": [{**c.view(), "address": c.address, "messages": c.number} for c in self.channels.values()],
                "stopped": list(self.stopped), **self.out.describe()}
