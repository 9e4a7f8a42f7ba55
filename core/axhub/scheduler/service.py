"""The hub's scheduler: APScheduler 4's ``AsyncScheduler``, started and stopped with the
app, holding one schedule per auto-syncing integration and the periodic jobs.

The database is the truth: schedules are derived from the integrations table and
reconciled from it at start-up (and kept in step by connect, settings and disconnect).
On PostgreSQL the schedules live in APScheduler's SQLAlchemy data store (schema
``apscheduler``) with its PostgreSQL event broker, so every process shares them and each
fire is run by one process; on SQLite they live in memory, rebuilt at every start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..db import Integration
from . import grid, jobs, triggers
from .current import register

if TYPE_CHECKING:
    from apscheduler import AsyncScheduler, Schedule

    from ..runtime.services import Services

log = logging.getLogger("axhub.scheduler")

SYNC_PREFIX = "sync:"
SYNC_TASK = "axhub.sync"
SCHEMA = "apscheduler"
RECONCILE_CONCURRENCY = 16

def now() -> datetime:
    return datetime.now(timezone.utc)


def _notify_broker():
    """APScheduler's PostgreSQL (LISTEN/NOTIFY) event broker, mended: asyncpg calls its
    listener outside any task, where anyio 4.14+ cannot start one, so every event from
    another process was dropped (agronholm/apscheduler#1141, open in 4.0.0a6). The
    event is handed to a task of our own instead."""
    from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker

    class Broker(AsyncpgEventBroker):
        def reconstitute_event_str(self, payload: str):
            event = super().reconstitute_event_str(payload)
            if event is not None:
                task = asyncio.get_running_loop().create_task(self.publish_local(event))
                _pending.add(task)
                task.add_done_callback(_pending.discard)
            return None  # the broken path in the listener is left with nothing to do

    return Broker


_pending: set[asyncio.Task] = set()


class Scheduler:
    def __init__(self, svc: "Services") -> None:
        self.svc = svc
        config = svc.config
        store = config.scheduler_store
        if store == "auto":
            store = "memory" if svc.db.is_sqlite else "database"
        if store not in ("memory", "database"):
            raise ValueError(f"AXHUB_SCHEDULER_STORE must be auto, memory or database, not {config.scheduler_store!r}")
        self.store_kind = store
        self.identity = f"{platform.node()}-{os.getpid()}-{id(self):x}"
        self.aps: AsyncScheduler | None = None
        self._engine = None
        self._stack: AsyncExitStack | None = None
        # What scheduled syncs did in this process: started, duplicate (a second fire of
        # the same time), busy (a run was already going), skipped (not due any more).
        self.counters: Counter[str] = Counter()

    # -- life cycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.aps is not None

    async def start(self, *, run_jobs: bool | None = None, reconcile: bool = True) -> None:
        """Open the data store, reconcile the schedules with the database, and (unless
        this process only serves HTTP) start running due jobs. ``reconcile=False`` only
        opens the store (``axhub jobs`` reads it)."""
        from apscheduler import AsyncScheduler
        from apscheduler.executors.async_ import AsyncJobExecutor

        data_store, broker = self._stores()
        self.aps = AsyncScheduler(data_store, broker, identity=self.identity,
                                  job_executors={"async": AsyncJobExecutor()})
        self._stack = AsyncExitStack()
        # Registered first, so undone last: jobs still finishing as the scheduler stops find their hub.
        self._stack.callback(register(self.aps, self.svc))
        if self._engine is not None:
            self._stack.push_async_callback(self._engine.dispose)
        await self._stack.enter_async_context(self.aps)

        # No limit on concurrent jobs of a task: the database's per-integration sync lock
        # and fire claim keep runs apart, and APScheduler's default (1) would serialise
        # every integration's sync behind one another.
        if not reconcile:
            return
        await self.aps.configure_task(SYNC_TASK, func=jobs.scheduled_sync, max_running_jobs=None)
        for name, (func, _trigger) in jobs.PERIODIC.items():
            await self.aps.configure_task(f"axhub.{name}", func=func, max_running_jobs=None)
        # Stored tasks name their function by reference: configured at every start, a
        # request left waiting by an older version runs the function where it is now.
        await self.aps.configure_task(triggers.TASK, func=triggers.fire, job_executor="async", max_running_jobs=None)
        started = time.perf_counter()
        stats = await self.reconcile()
        await self._periodic()
        log.info("scheduler (%s store) reconciled in %.3f s: %s", self.store_kind, time.perf_counter() - started, stats)
        if self.svc.config.scheduler_run if run_jobs is None else run_jobs:
            await self.aps.start_in_background()

    async def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            try:
                await stack.aclose()
            finally:
                self.aps = self._engine = None

    def _stores(self):
        from apscheduler.datastores.memory import MemoryDataStore
        from apscheduler.eventbrokers.local import LocalEventBroker

        if self.store_kind == "memory":
            return MemoryDataStore(), LocalEventBroker()
        from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore

        engine = self.svc.db.engine
        if not self.svc.db.is_sqlite:
            # A pool of its own: the scheduler's bookkeeping (acquiring due schedules and
            # jobs, releasing them) must not queue behind a hundred running syncs.
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = self._engine = create_async_engine(self.svc.db.url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        if self.svc.db.is_sqlite:
            # Allowed for experiments; APScheduler warns against sharing SQLite between
            # schedulers, and one process is all SQLite serves anyway.
            return SQLAlchemyDataStore(engine), LocalEventBroker()
        return SQLAlchemyDataStore(engine, schema=SCHEMA), _notify_broker().from_async_sqla_engine(engine)

    # -- what the database says ---------------------------------------------------------

    def interval_of(self, row: Integration) -> int | None:
        """The integration's auto-sync interval in seconds, or None if it does not auto-sync."""
        return self.desired_interval(row.provider, row.status, row.settings)

    def desired_interval(self, provider: str, status: str, settings: dict[str, Any]) -> int | None:
        if status == "disconnected" or not settings.get("autoSync"):
            return None
        if not self.svc.hub.implements(provider, "sync"):
            return None
        interval = settings.get("syncInterval")
        if not isinstance(interval, int) or isinstance(interval, bool):
            return None
        config = self.svc.config
        # Bounds the operator tightened after the setting was saved still hold.
        return max(config.sync_interval_min, min(config.sync_interval_max, interval))

    def next_sync(self, row: Integration, at: datetime | None = None) -> datetime | None:
        """When the integration's next automatic sync is due, by its grid (what the
        schedule holds, computed without asking the data store)."""
        interval = self.interval_of(row)
        return None if interval is None else grid.next_fire(row.id, interval, at or now())

    # -- schedules ----------------------------------------------------------------------

    def _schedule(self, integration_id: str, interval: int) -> "Schedule":
        from apscheduler import CoalescePolicy, Schedule
        from apscheduler.triggers.interval import IntervalTrigger

        start = grid.next_fire(integration_id, interval, now())
        trigger = IntervalTrigger(seconds=interval, start_time=start)
        schedule = Schedule(
            id=SYNC_PREFIX + integration_id, task_id=SYNC_TASK, trigger=trigger, args=(integration_id,),
            coalesce=CoalescePolicy.latest, job_executor="async",
            # A fire that could not start within its interval is dropped: the next one comes.
            misfire_grace_time=timedelta(seconds=interval),
        )
        schedule.next_fire_time = trigger.next()
        return schedule

    @staticmethod
    def _matches(schedule: "Schedule", integration_id: str, interval: int) -> bool:
        trigger = schedule.trigger
        return (
            type(trigger).__name__ == "IntervalTrigger"
            and getattr(trigger, "seconds", None) == interval
            and not any(getattr(trigger, f, 0) for f in ("weeks", "days", "hours", "minutes", "microseconds"))
            and grid.on_grid(integration_id, interval, trigger.start_time)
            and tuple(schedule.args) == (integration_id,)
            and schedule.task_id == SYNC_TASK
        )

    async def ensure(self, row: Integration) -> datetime | None:
        """Bring one integration's schedule in line with its row (connect, settings,
        disconnect); returns its next fire time."""
        if self.aps is None:
            return None
        from apscheduler import ConflictPolicy

        interval = self.interval_of(row)
        sid = SYNC_PREFIX + row.id
        if interval is None:
            await self.aps.data_store.remove_schedules({sid})
            return None
        existing = await self.aps.data_store.get_schedules({sid})
        if existing and self._matches(existing[0], row.id, interval):
            return existing[0].next_fire_time
        schedule = self._schedule(row.id, interval)
        await self.aps.data_store.add_schedule(schedule, ConflictPolicy.replace)
        return schedule.next_fire_time

    async def forget(self, integration_id: str) -> None:
        if self.aps is not None:
            await self.aps.data_store.remove_schedules({SYNC_PREFIX + integration_id})

    async def reconcile(self) -> dict[str, int]:
        """Make the data store hold exactly the schedules the integrations table asks
        for: add the missing, replace the changed, remove the orphaned. Only the
        difference is written, the additions concurrently (bounded)."""
        assert self.aps is not None
        from apscheduler import ConflictPolicy

        async with self.svc.db.session() as s:
            rows = (await s.execute(select(Integration.id, Integration.provider, Integration.status, Integration.settings)
                                    .where(Integration.status != "disconnected"))).all()
        desired: dict[str, tuple[str, int]] = {}
        for integration_id, provider, status, settings in rows:
            interval = self.desired_interval(provider, status, settings)
            if interval is not None:
                desired[SYNC_PREFIX + integration_id] = (integration_id, interval)
        existing = {sch.id: sch for sch in await self.aps.data_store.get_schedules() if sch.id.startswith(SYNC_PREFIX)}
        orphaned = [sid for sid in existing if sid not in desired]
        todo = [(sid, iid, interval) for sid, (iid, interval) in desired.items()
                if sid not in existing or not self._matches(existing[sid], iid, interval)]
        if orphaned:
            await self.aps.data_store.remove_schedules(orphaned)
        added = [(iid, interval) for sid, iid, interval in todo if sid not in existing]
        replaced = [(iid, interval) for sid, iid, interval in todo if sid in existing]
        if added and await self._bulk_insert([self._schedule(iid, interval) for iid, interval in added]):
            added = []
        gate = asyncio.Semaphore(RECONCILE_CONCURRENCY)

        async def put(integration_id: str, interval: int) -> None:
            async with gate:
                await self.aps.data_store.add_schedule(self._schedule(integration_id, interval), ConflictPolicy.replace)

        await asyncio.gather(*(put(iid, interval) for iid, interval in [*added, *replaced]))
        return {"schedules": len(desired), "added": sum(1 for sid, _, _ in todo if sid not in existing),
                "replaced": sum(1 for sid, _, _ in todo if sid in existing), "removed": len(orphaned)}

    async def _bulk_insert(self, schedules: list["Schedule"]) -> bool:
        """Write many new schedules to the PostgreSQL store in a few multi-row inserts.
        The store's own ``add_schedule`` is a transaction and a NOTIFY per schedule
        (10,000 took 55 s at first start); this is the same rows, marshalled by the
        store's serializer into its own table definition, then one event to wake the
        schedulers. False (nothing written) where it does not apply or when another
        process got there first: the caller then adds them one by one."""
        from apscheduler import ScheduleAdded
        from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
        from sqlalchemy.exc import IntegrityError

        store = self.aps.data_store
        if not isinstance(store, SQLAlchemyDataStore) or self.svc.db.is_sqlite:
            return False
        table = store.get_table_definitions().tables[f"{SCHEMA}.schedules"]
        rows = [sch.marshal(store.serializer) for sch in schedules]
        try:
            async with self.svc.db.engine.begin() as conn:
                for chunk in range(0, len(rows), 1000):
                    await conn.execute(table.insert(), rows[chunk:chunk + 1000])
        except IntegrityError:
            return False
        first = min(schedules, key=lambda sch: sch.next_fire_time)
        await self.aps.event_broker.publish(ScheduleAdded(schedule_id=first.id, task_id=first.task_id,
                                                          next_fire_time=first.next_fire_time))
        return True

    async def _periodic(self) -> None:
        """The hub-wide jobs (reminders, alerts, reports, token refresh, retries, upkeep),
        each one schedule shared by every process."""
        from apscheduler import CoalescePolicy, ConflictPolicy, Schedule

        ids = {f"job:{name}" for name in jobs.PERIODIC}
        existing = {sch.id: sch for sch in await self.aps.data_store.get_schedules(ids)}
        for name, (_func, make_trigger) in jobs.PERIODIC.items():
            sid = f"job:{name}"
            trigger = make_trigger()
            old = existing.get(sid)
            if old is not None and repr(old.trigger).split(", start_time")[0] == repr(trigger).split(", start_time")[0]:
                continue
            schedule = Schedule(id=sid, task_id=f"axhub.{name}", trigger=trigger, coalesce=CoalescePolicy.latest,
                                job_executor="async", misfire_grace_time=timedelta(minutes=10))
            schedule.next_fire_time = trigger.next()
            await self.aps.data_store.add_schedule(schedule, ConflictPolicy.replace)

    async def schedules(self) -> list[dict[str, Any]]:
        """Every schedule with its next run time (``axhub jobs``)."""
        assert self.aps is not None
        out = []
        for sch in await self.aps.data_store.get_schedules():
            out.append({"id": sch.id, "task": sch.task_id, "trigger": repr(sch.trigger),
                        "nextRun": sch.next_fire_time, "lastRun": sch.last_fire_time,
                        "integrationId": sch.args[0] if sch.id.startswith(SYNC_PREFIX) and sch.args else None,
                        "interval": getattr(sch.trigger, "seconds", None) if sch.id.startswith(SYNC_PREFIX) else None})
        return out
