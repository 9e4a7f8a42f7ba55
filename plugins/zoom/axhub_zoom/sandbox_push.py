"""Event notifications of the Zoom sandbox: the app's endpoint URL (what an operator
saves in the Marketplace), validated with Zoom's ``endpoint.url_validation``
challenge, and ``meeting.ended`` delivered to it when a meeting ends (``POST
/_control/meetings/{id}/play``), signed as Zoom signs: ``x-zm-request-timestamp``
(Unix seconds) and ``x-zm-signature`` = ``v0=`` + hex HMAC-SHA256(Secret Token,
``v0:{timestamp}:{body}``).

Controls (``/_control/push``): ``{"endpoint": url}`` sets the endpoint and validates it
(the challenge's answer must carry ``encryptedToken`` = hex HMAC-SHA256(Secret Token,
plainToken)); ``drop``/``duplicate`` the next n notifications, ``delay`` each by s
seconds, ``forge`` (signed with another secret) or ``stale`` (a timestamp ten minutes
old) the next n; ``GET`` shows the endpoint and every delivery with the hub's answer.
Zoom wants https; the sandbox takes http too, but only on loopback (the hub beside it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import httpx

from axhub import v0_signature
from axhub.sandbox import Outgoing, pushable

from .push import SANDBOX_SECRET

log = logging.getLogger("axhub.sandbox.zoom")

ACCOUNT_ID = "sbx-account-1"  # the account of every sandbox user (GET /users/me)
COUNTERS = ("drop", "duplicate", "forge", "stale")


class ZoomPush:
    def __init__(self) -> None:
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the app's endpoint; not the
        # controls a test set, nor the notifications in flight.
        return {"endpoint": self.endpoint, "validated": self.validated}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reset()
        vars(self).update(state)

    def reset(self) -> None:
        self.endpoint: str | None = None
        self.validated = False
        self.out = Outgoing(COUNTERS)

    # -- what Zoom sends ----------------------------------------------------------------
    def validate(self) -> None:
        self.out.spawn(self._deliver({"payload": {"plainToken": secrets.token_urlsafe(16)},
                                   "event_ts": int(time.time() * 1000), "event": "endpoint.url_validation"}))

    def meeting_ended(self, meeting: dict[str, Any]) -> None:
        """A meeting ended: ``meeting.ended`` to the endpoint, once it was validated."""
        if self.endpoint is None or not self.validated:
            return
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"event": "meeting.ended", "event_ts": int(time.time() * 1000), "payload": {
            "account_id": ACCOUNT_ID, "object": {
                "id": str(meeting["id"]), "uuid": meeting["uuid"], "host_id": meeting["host_id"],
                "topic": meeting["topic"], "type": meeting["type"], "start_time": meeting["start_time"] or ended,
                "timezone": meeting["timezone"], "duration": meeting["duration"], "end_time": ended}}}
        self.out.spawn(self._deliver(body))

    async def _deliver(self, event: dict[str, Any]) -> None:
        address = self.endpoint
        if address is None:
            return
        raw = json.dumps(event, separators=(",", ":")).encode()
        kind = event["event"]
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
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Zoom Marketplace/1.1a",
                   "x-zm-request-timestamp": str(stamp), "x-zm-signature": v0_signature(secret, str(stamp), raw),
                   "x-zm-trackingid": f"v=2.0;clid=us05;rid={secrets.token_hex(8)}"}
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(times):
                try:
                    response = await client.post(address, headers=headers, content=raw)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    response, status = None, None
                    log.info("sandbox push to %s failed: %s", address, exc)
                if kind == "endpoint.url_validation" and response is not None:
                    self.validated = self._answered(response, event["payload"]["plainToken"])
                self.out.deliveries.append({**record, "status": status})

    @staticmethod
    def _answered(response: httpx.Response, plain: str) -> bool:
        try:
            answer = response.json()
        except ValueError:
            return False
        expected = hmac.new(SANDBOX_SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
        return (response.status_code == 200 and isinstance(answer, dict) and answer.get("plainToken") == plain
                and hmac.compare_digest(str(answer.get("encryptedToken")), expected))

    async def settle(self) -> None:
        """Wait for the notifications under way (tests read the deliveries after)."""
        await self.out.settle()

    # -- controls ------------------------------------------------------------------------
    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        if "endpoint" in data:
            address = pushable(data["endpoint"], "endpoint URL")
            if address != self.endpoint or not self.validated:
                self.endpoint, self.validated = address, False
                self.validate()
        self.out.configure(data)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "validated": self.validated, **self.out.describe()}
