"""Events API deliveries of the Slack sandbox: the app's Request URL (what an operator
saves under Event Subscriptions), verified with Slack's ``url_verification``
challenge, and ``tokens_revoked`` then ``app_uninstalled`` sent to it when the app is
uninstalled (``POST /_control/uninstall``), or ``tokens_revoked`` alone (``POST
/_control/tokens-revoked``). Signed as Slack signs: ``X-Slack-Request-Timestamp`` (Unix
seconds) and ``X-Slack-Signature`` = ``v0=`` + hex HMAC-SHA256(Signing Secret,
``v0:{timestamp}:{body}``); a duplicate is Slack's retry (``X-Slack-Retry-Num``).

Controls (``/_control/push``): ``{"requestUrl": url}`` sets the Request URL and
verifies it (the answer must echo the challenge); ``drop``/``duplicate`` the next n
events, ``delay`` each by s seconds, ``forge`` (another secret) or ``stale`` (ten minutes
old) the next n; ``GET`` shows the URL and every delivery with the hub's answer. Slack
wants https; the sandbox takes http too, but only on loopback (the hub beside it).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import httpx

from axhub import v0_signature
from axhub.sandbox import Outgoing, pushable

from .push import SANDBOX_SECRET

log = logging.getLogger("axhub.sandbox.slack")

COUNTERS = ("drop", "duplicate", "forge", "stale")
VERIFICATION_TOKEN = "sbxVerificationToken0000"  # Slack's deprecated body token: sent, never a proof


class SlackPush:
    def __init__(self) -> None:
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the Request URL; not the controls
        # a test set, nor the deliveries in flight.
        return {"request_url": self.request_url, "verified": self.verified}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reset()
        vars(self).update(state)

    def reset(self) -> None:
        self.request_url: str | None = None
        self.verified = False
        self.out = Outgoing(COUNTERS)

    # -- what Slack sends ---------------------------------------------------------------
    def verify(self) -> None:
        self.out.spawn(self._deliver({"token": VERIFICATION_TOKEN, "challenge": secrets.token_urlsafe(24),
                                   "type": "url_verification"}))

    def event(self, team: str, app: str, event: dict[str, Any]) -> None:
        """One ``event_callback`` to the Request URL, once it was verified."""
        if self.request_url is None or not self.verified:
            return
        self.out.spawn(self._deliver({"token": VERIFICATION_TOKEN, "team_id": team, "api_app_id": app, "event": event,
                                   "type": "event_callback", "event_id": "Ev" + secrets.token_hex(5).upper(),
                                   "event_time": int(time.time())}))

    async def _deliver(self, body: dict[str, Any]) -> None:
        address = self.request_url
        if address is None:
            return
        raw = json.dumps(body, separators=(",", ":")).encode()
        kind = body["type"] if body["type"] == "url_verification" else body["event"]["type"]
        record: dict[str, Any] = {"event": kind, "status": None, "dropped": False, "forged": False, "stale": False}
        if self.out.take("drop"):
            self.out.deliveries.append({**record, "dropped": True})
            return
        stamp = int(time.time())
        if self.out.take("stale"):
            stamp -= 600
            record["stale"] = True
        secret = SANDBOX_SECRET
        if self.out.take("forge"):
            secret = secrets.token_hex(16)
            record["forged"] = True
        times = 2 if self.out.take("duplicate") else 1
        await self.out.pause()
        headers = {"content-type": "application/json", "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                   "x-slack-request-timestamp": str(stamp), "x-slack-signature": v0_signature(secret, str(stamp), raw)}
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(times):
                retry = {"x-slack-retry-num": str(attempt), "x-slack-retry-reason": "http_timeout"} if attempt else {}
                try:
                    response = await client.post(address, headers={**headers, **retry}, content=raw)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    response, status = None, None
                    log.info("sandbox events to %s failed: %s", address, exc)
                if kind == "url_verification" and response is not None:
                    self.verified = self._answered(response, body["challenge"])
                self.out.deliveries.append({**record, "status": status})

    @staticmethod
    def _answered(response: httpx.Response, challenge: str) -> bool:
        if response.status_code != 200:
            return False
        if response.text == challenge:  # plain text, or JSON {"challenge": …}: Slack takes either
            return True
        try:
            return response.json().get("challenge") == challenge
        except (ValueError, AttributeError):
            return False

    async def settle(self) -> None:
        """Wait for the deliveries under way (tests read them after)."""
        await self.out.settle()

    # -- controls ------------------------------------------------------------------------
    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        if "requestUrl" in data:
            address = pushable(data["requestUrl"], "Request URL")
            if address != self.request_url or not self.verified:
                self.request_url, self.verified = address, False
                self.verify()
        self.out.configure(data)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"requestUrl": self.request_url, "verified": self.verified, **self.out.describe()}
