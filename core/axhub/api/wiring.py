"""The composition root: builds the running hub's parts once per app and wires the
layers together, so that no domain imports the module that builds everything."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..config import Config
from ..db import Database, Integration
from ..deliveries import Deliveries, DeliveryWorker
from ..deliveries.queue import Store
from ..metering import CallRecorder
from ..plugins import Hub, PluginManager
from ..push.lifecycle import close_for, follow
from ..push.work import PushWork
from ..runtime.services import Services
from ..runtime.signals import Signals, utcnow
from ..runtime.tasks import TaskSet
from ..scheduler import Scheduler
from ..scheduler.triggers import SyncRequests
from ..vault import Cipher, Vault


def build_services(config: Config, plugins: PluginManager | None = None,
                   clock: Callable[[], datetime] = utcnow) -> Services:
    db = Database(config.database_url)
    plugins = plugins or PluginManager(config)
    sandbox_base = None
    if config.sandbox:
        sandbox_base = config.sandbox_url or f"{config.public_url}/sandbox"
    recorder = CallRecorder(db)
    hub = Hub(config, plugins, sandbox_base, recorder)
    cipher = Cipher(config.vault_keys)
    tasks = TaskSet()
    svc = Services(config, db, plugins, hub, cipher, Vault(db, cipher, config.refresh_margin, sandbox=config.sandbox),
                   Signals(hub, tasks, db, clock), tasks, recorder, clock)
    svc.deliveries = Store(svc)
    svc.worker = DeliveryWorker(svc)
    svc.scheduler = Scheduler(svc)
    svc.push = PushWork(svc)
    # What plugins reach as ctx.deliveries and ctx.syncs.
    hub.deliveries_for = lambda slug: Deliveries(svc, slug)
    hub.syncs_for = lambda slug: SyncRequests(svc, slug)

    async def integration_changed(row: Integration) -> None:
        # The organisation's cached integrations are stale at once in this process, and
        # the schedule follows the row: a new interval, autoSync off, or disconnected.
        svc.deliveries.forget(row.org_id)
        await svc.scheduler.ensure(row)

    async def subscribe_push(row: Integration) -> None:
        # Off the request's path: the provider's watch call is not the caller's wait;
        # a subscription that fails to open is retried by the push upkeep job.
        if row.status == "connected":
            svc.tasks.spawn(follow(svc, row), name=f"push-follow-{row.id}")

    async def unsubscribe_push(row: Integration) -> None:
        await close_for(svc, row)

    svc.lifecycle.subscribe(integration_changed)
    svc.lifecycle.subscribe(subscribe_push)
    svc.lifecycle.subscribe(unsubscribe_push, before_disconnect=True)
    # Stopped in this order: no job may start a delivery once the worker has stopped.
    svc.closers.extend([svc.scheduler.stop, svc.worker.stop])
    return svc
