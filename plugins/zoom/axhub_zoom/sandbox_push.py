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

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from typing import Any

import httpx

from .push import SANDBOX_SECRET

log = logging.getLogger("axhub.sandbox.zoom")

ACCOUNT_ID = "sbx-account-1"  # the account of every sandbox user (GET /users/me)
LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/", re.I)
COUNTERS = ("drop", "duplicate", "forge", "stale")


def signature(secret: str, stamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()


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
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.delay = 0.0
        self.deliveries: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task] = set()

    # -- what Zoom sends ----------------------------------------------------------------
    def validate(self) -> None:
        self._spawn(self._deliver({"payload": {"plainToken": secrets.token_urlsafe(16)},
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
        self._spawn(self._deliver(body))

    def _take(self, name: str) -> bool:
        if self.counters[name] > 0:
            self.counters[name] -= 1
            return True
        return False

    async def _deliver(self, event: dict[str, Any]) -> None:
        address = self.endpoint
        if address is None:
            return
        raw = json.dumps(event, separators=(",", ":")).encode()
        kind = event["event"]
        record: dict[str, Any] = {"event": kind, "status": None, "dropped": False, "forged": False, "stale": False}
        if self._take("drop"):
            self.deliveries.append({**record, "dropped": True})
            return
        stamp = int(time.time())
        if self._take("stale"):
            stamp -= 600
            record["stale"] = True
        secret = SANDBOX_SECRET
        if self._take("forge"):
            secret = secrets.token_hex(16)
            record["forged"] = True
        times = 2 if self._take("duplicate") else 1
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Zoom Marketplace/1.1a",
                   "x-zm-request-timestamp": str(stamp), "x-zm-signature": signature(secret, str(stamp), raw),
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
                self.deliveries.append({**record, "status": status})

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
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop: nothing is served, nothing is sent
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- controls ------------------------------------------------------------------------
    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        if "endpoint" in data:
            address = data["endpoint"]
            if not isinstance(address, str) or not (address.lower().startswith("https://") or LOOPBACK.match(address)):
                raise ValueError("the endpoint URL must be https (http only on loopback)")
            if address != self.endpoint or not self.validated:
                self.endpoint, self.validated = address, False
                self.validate()
        for name in COUNTERS:
            if name in data:
                self.counters[name] = max(0, int(data[name]))
        if "delay" in data:
            self.delay = min(max(0.0, float(data["delay"])), 30.0)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "validated": self.validated, **self.counters, "delay": self.delay,
                "inFlight": len(self._tasks), "deliveries": list(self.deliveries)}
