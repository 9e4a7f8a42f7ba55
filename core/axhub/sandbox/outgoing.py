"""What every sandbox that pushes to the hub shares (change notifications, events): the
controls a test sets on the next deliveries (drop, duplicate, and whatever a provider
adds: forge, stale…), a delay, the log of what was sent and how the hub answered, and
the deliveries under way, which a test waits for before it reads the log.

A sandbox's own push code keeps its provider's shapes (headers, bodies, signatures,
handshakes) and asks an :class:`Outgoing` the rest. Nothing here is kept across a
restart: controls and deliveries are a test's, not the sandbox's data.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Coroutine

LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/", re.I)
MAX_DELAY = 30.0  # seconds: a test's delay, never a hung sandbox


def pushable(address: Any, what: str) -> str:
    """``address`` if a provider would push to it: https (the providers want it), or http
    on loopback (the hub beside the sandbox); ValueError naming ``what`` else."""
    if not isinstance(address, str) or not (address.lower().startswith("https://") or LOOPBACK.match(address)):
        raise ValueError(f"the {what} must be https (http only on loopback)")
    return address


class Outgoing:
    """The next deliveries' controls (``counters``: how many of the next deliveries each
    applies to), the ``delay`` before each, the ``deliveries`` log and the tasks sending."""

    def __init__(self, counters: tuple[str, ...] = ("drop", "duplicate")) -> None:
        self.names = counters
        self.reset()

    def reset(self) -> None:
        """No control set, nothing logged (deliveries under way carry on)."""
        self.counters = dict.fromkeys(self.names, 0)
        self.delay = 0.0
        self.deliveries: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task] = set()

    def take(self, name: str) -> bool:
        """Whether the control ``name`` applies to this delivery (one fewer left)."""
        if self.counters[name] > 0:
            self.counters[name] -= 1
            return True
        return False

    async def pause(self) -> None:
        """The delay a test asked for, before a delivery is sent."""
        if self.delay:
            await asyncio.sleep(self.delay)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Send in the background (the request that changed the data is answered first)."""
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop: nothing is served, nothing is sent
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the deliveries under way (tests read the log after)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def configure(self, data: dict[str, Any]) -> None:
        """The controls given in ``data`` (counts, ``delay`` in seconds up to 30)."""
        for name in self.names:
            if name in data:
                self.counters[name] = max(0, int(data[name]))
        if "delay" in data:
            self.delay = min(max(0.0, float(data["delay"])), MAX_DELAY)

    def describe(self) -> dict[str, Any]:
        """The controls, the deliveries in flight and the log, for ``GET /_control/push``."""
        return {**self.counters, "delay": self.delay, "inFlight": len(self._tasks), "deliveries": list(self.deliveries)}
