"""The running hub's parts, built once per app: database, plugins, vault, signals,
deliveries, and the clock they all read (tests inject their own)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Callable

from .config import Config
from .db import Database
from .metering import CallRecorder
from .plugins import Hub, PluginManager
from .scheduler import Scheduler
from .signals import Signals, utcnow
from .tasks import TaskSet
from .vault import Cipher, Vault


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
    deliveries: Any = None  # deliveries.queue.Store
    worker: Any = None  # deliveries.DeliveryWorker
    # Set right after the rest: it needs them (``build``).
    scheduler: Scheduler = dataclasses.field(init=False)

    @classmethod
    def build(cls, config: Config, plugins: PluginManager | None = None, clock: Callable[[], datetime] = utcnow) -> "Services":
        from .deliveries import Deliveries, DeliveryWorker
        from .deliveries.queue import Store
        from .sync.triggers import SyncRequests

        db = Database(config.database_url)
        plugins = plugins or PluginManager(config)
        sandbox_base = None
        if config.sandbox:
            sandbox_base = config.sandbox_url or f"{config.public_url}/sandbox"
        recorder = CallRecorder(db)
        hub = Hub(config, plugins, sandbox_base, recorder)
        cipher = Cipher(config.vault_keys)
        tasks = TaskSet()
        svc = cls(config, db, plugins, hub, cipher, Vault(db, cipher, config.refresh_margin),
                  Signals(hub, tasks, db, clock), tasks, recorder, clock)
        svc.deliveries = Store(svc)
        svc.worker = DeliveryWorker(svc)
        hub.deliveries_for = lambda slug: Deliveries(svc, slug)
        hub.syncs_for = lambda slug: SyncRequests(svc, slug)
        svc.scheduler = Scheduler(svc)
        return svc

    async def aclose(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()
        await self.tasks.drain()
        await self.hub.aclose()
        await self.recorder.aclose()
        await self.db.dispose()
