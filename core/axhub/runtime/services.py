"""The running hub's parts, handed to every domain: database, plugins, vault, signals,
tasks, the clock they all read (tests inject their own), and the integration lifecycle
that the layers above the integrations listen to."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..config import Config
from ..db import Database
from ..metering import CallRecorder
from ..plugins import Hub, PluginManager
from ..vault import Cipher, Vault
from .signals import Signals, utcnow
from .tasks import TaskSet

if TYPE_CHECKING:  # built above this layer, by axhub.api.wiring
    from ..db import Integration
    from ..deliveries.queue import Store
    from ..deliveries.worker import DeliveryWorker
    from ..push.work import PushWork
    from ..scheduler import Scheduler
else:
    # Litestar resolves the annotations of what it injects (msgspec reads them at run
    # time): there, the higher layers' types stand for anything.
    Integration = Store = DeliveryWorker = Scheduler = PushWork = Any

Listener = Callable[["Integration"], Awaitable[Any]]


class Lifecycle:
    """Who hears that an integration was connected, changed or disconnected.

    The integrations domain tells; the parts built above it (the scheduler's schedule,
    the delivery store's cache of an organisation's integrations) subscribe in the
    composition root. So the domain calls nothing of a higher layer, and a new
    listener (push subscriptions, say) is one ``subscribe`` away."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._leaving: list[Listener] = []

    def subscribe(self, listener: Listener, *, before_disconnect: bool = False) -> None:
        """``before_disconnect``: hear of a disconnect while the grant still works (the
        provider's subscriptions are removed with it), before the plugin revokes it."""
        (self._leaving if before_disconnect else self._listeners).append(listener)

    async def disconnecting(self, row: "Integration") -> None:
        """``row`` is about to be disconnected: its grant is still valid."""
        for listener in self._leaving:
            await listener(row)

    async def changed(self, row: "Integration") -> None:
        """``row`` is as saved: created, with new settings, or disconnected."""
        for listener in self._listeners:
            await listener(row)


@dataclasses.dataclass
class Services:
    config: Config
    db: Database
    plugins: PluginManager
    hub: Hub
    cipher: Cipher
    vault: Vault
    signals: Signals
    tasks: TaskSet
    recorder: CallRecorder
    clock: Callable[[], datetime] = utcnow
    lifecycle: Lifecycle = dataclasses.field(default_factory=Lifecycle)
    # The parts of higher layers, set by the composition root; each is used only by
    # code of its own layer or above (the import contracts hold the imports to that).
    deliveries: "Store" = dataclasses.field(init=False)
    worker: "DeliveryWorker" = dataclasses.field(init=False)
    scheduler: "Scheduler" = dataclasses.field(init=False)
    push: "PushWork" = dataclasses.field(init=False)
    # Closed first to last by ``aclose`` (the scheduler before the worker before the rest).
    closers: list[Callable[[], Awaitable[Any]]] = dataclasses.field(default_factory=list)

    async def aclose(self) -> None:
        for close in self.closers:
            await close()
        await self.tasks.drain()
        await self.hub.aclose()
        await self.recorder.aclose()
        await self.db.dispose()
