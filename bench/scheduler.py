"""Scheduler figures (issue: the scheduler), each printed beside its limit.

    .venv/bin/python bench/scheduler.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--scale 1.0] [--interval 300] [--short-interval 60]

Arrangement: a fresh PostgreSQL database; the Google sandbox in its own process
(`axhub sandbox`); hub processes (`axhub serve`) on loopback, exactly as operators run
them. One Google integration is connected through the API (OAuth against the sandbox);
the others are seeded straight into the database as copies of it (same encrypted grant,
the same sandbox calendar), because connecting 10,000 through OAuth would only measure
OAuth. Every sync then really runs against the sandbox.

1. One hub process, N (10,000) integrations syncing every --interval (300) s: how late
   each automatic sync starts after its due time (p99 ≤ 1 s), over one full interval,
   and the hub's CPU use meanwhile.
2. Two hub processes on one database, M (2,000) integrations at the shortest allowed
   interval (AXHUB_SYNC_INTERVAL_MIN, 60 s) for 3 intervals: every due time of every
   integration run exactly once; how the runs split between the processes.
3. Start-up reconciliation of N integrations (< 5 s): cold (the shared schedule store
   empty: every schedule written) and warm (a restart: nothing to write).

Reference (first): the scheduling layer alone — the same APScheduler store and broker
firing jobs that do nothing at figure 1's rate — so that figure 1's lag can be split into
scheduling and syncing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import drop_database, free_port, fresh_database, line, up  # noqa: E402

from axhub.scheduler.grid import last_fire  # noqa: E402
from axhub.testing import connect  # noqa: E402

CLI = [sys.executable, "-m", "axhub.cli"]
RECONCILED = re.compile(r"reconciled in ([0-9.]+) s: (\{.*\})")
RAN = re.compile(r"scheduled sync (sync-\S+) of (int-\S+) \(due (\S+)\) ran on (\S+)")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


class Cluster:
    """A fresh database, the sandbox, and hub processes started and stopped at will."""

    def __init__(self, server_url: str, tmp: Path) -> None:
        self.url = fresh_database(server_url)
        self.tmp = tmp
        self.sandbox_port = free_port()
        self.env = {**os.environ, "AXHUB_DATABASE_URL": self.url, "AXHUB_DATA_DIR": str(tmp), "AXHUB_SANDBOX": "1",
                    "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}", "AXHUB_PLUGINS": "google", "AXHUB_PUSH": "0",
                    "AXHUB_AUTO_MIGRATE": "0", "AXHUB_LOG_LEVEL": "INFO"}
        subprocess.run([*CLI, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        self.sandbox = subprocess.Popen([*CLI, "sandbox", "--port", str(self.sandbox_port)], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        up(f"http://127.0.0.1:{self.sandbox_port}/google/_control/stats")
        self.hubs: dict[int, tuple[subprocess.Popen, Path]] = {}

    def start_hub(self, name: str) -> int:
        port = free_port()
        log = self.tmp / f"{name}.log"
        env = {**self.env, "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        with open(log, "w") as out:
            proc = subprocess.Popen([*CLI, "serve", "--sandbox", "--port", str(port)], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.hubs[port] = (proc, log)
        up(f"http://127.0.0.1:{port}/schema/openapi.json", )
        return port

    def stop_hub(self, port: int) -> None:
        proc, _ = self.hubs[port]
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=120)

    def log(self, port: int) -> str:
        return self.hubs[port][1].read_text()

    def reconciled(self, port: int) -> tuple[float, str]:
        match = RECONCILED.search(self.log(port))
        assert match, "no reconciliation line in the hub's log"
        return float(match.group(1)), match.group(2)

    def api(self, port: int) -> httpx.Client:
        token = subprocess.run([*CLI, "token", "create", "--org", "bench", "--role", "admin"], env=self.env, check=True,
                               capture_output=True, text=True).stdout.strip()
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def close(self) -> None:
        for port in list(self.hubs):
            self.stop_hub(port)
        self.sandbox.terminate()
        self.sandbox.wait(timeout=30)
        drop_database(self.url)

    # -- data ------------------------------------------------------------------------------

    def seed(self, count: int, interval: int) -> list[str]:
        """One integration connected through the API (OAuth against the sandbox), then
        ``count`` copies of it written straight into the database, auto-syncing every
        ``interval`` seconds (the template itself does not auto-sync)."""
        port = self.start_hub("connect")
        with self.api(port) as api:
            template = connect(api, "google", settings={"autoSync": False})["integrationId"]
        self.stop_hub(port)
        return asyncio.run(self._copy(template, count, interval))

    async def _copy(self, template: str, count: int, interval: int) -> list[str]:
        from sqlalchemy import insert

        from axhub.db import Credential, Database, Integration

        db = Database(self.url)
        try:
            async with db.session() as s:
                row = await s.get(Integration, template)
                cred = await s.get(Credential, template)
            base = {c.key: getattr(row, c.key) for c in Integration.__table__.columns}
            grant = {c.key: getattr(cred, c.key) for c in Credential.__table__.columns}
            ids = [f"int-bench-{i:06d}" for i in range(count)]
            for chunk in range(0, count, 1000):
                part = ids[chunk:chunk + 1000]
                async with db.session() as s, s.begin():
                    await s.execute(insert(Integration), [
                        {**base, "id": i, "settings": {**row.settings, "autoSync": True, "syncInterval": interval}}
                        for i in part])
                    await s.execute(insert(Credential), [{**grant, "integration_id": i} for i in part])
            async with db.engine.begin() as conn:
                from sqlalchemy import text

                await conn.execute(text("ANALYZE integrations, credentials"))
            return ids
        finally:
            await db.dispose()

    async def _runs(self) -> list[tuple[str, str, datetime]]:
        from sqlalchemy import select

        from axhub.db import Database, SyncRun

        db = Database(self.url)
        try:
            async with db.session() as s:
                return [tuple(r) for r in (await s.execute(
                    select(SyncRun.id, SyncRun.integration_id, SyncRun.started_at).where(SyncRun.type == "automatic"))).all()]
        finally:
            await db.dispose()

    def runs(self):
        return asyncio.run(self._runs())


def one_process(server_url: str, n: int, interval: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-sched-"))
    cluster = Cluster(server_url, tmp)
    try:
        print(f"seeding {n} integrations (auto-sync every {interval} s) …", flush=True)
        cluster.seed(n, interval)
        port = cluster.start_hub("one")
        cold, stats = cluster.reconciled(port)
        line(f"start-up reconciliation, {n} integrations, empty store", f"{cold:.2f} s", "5 s", cold < 5)
        print(f"    {stats}", flush=True)
        proc = cluster.hubs[port][0]
        window_start = datetime.now(timezone.utc) + timedelta(seconds=2)
        window_end = window_start + timedelta(seconds=interval)
        cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
        wait = (window_end - datetime.now(timezone.utc)).total_seconds()
        print(f"watching one interval ({wait:.0f} s) …", flush=True)
        time.sleep(max(0.0, wait))
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
        time.sleep(15)  # the last runs finish
        lags, ran = [], set()
        for _run_id, integration, started in cluster.runs():
            due = last_fire(integration, interval, started)
            if window_start <= due < window_end:
                lags.append((started - due).total_seconds())
                ran.add(integration)
        line(f"automatic sync start after its due time, p99 ({len(lags)} runs)", f"{p99(lags):.3f} s", "1 s",
             p99(lags) <= 1.0)
        print(f"    max {max(lags, default=float('nan')):.3f} s; {len(ran)} of {n} integrations ran in the interval "
              f"({n / interval:.1f} syncs/s); hub CPU {100 * cpu:.0f}% of one core", flush=True)
        cluster.stop_hub(port)
        port = cluster.start_hub("restart")
        warm, stats = cluster.reconciled(port)
        line(f"start-up reconciliation, {n} integrations, after a restart", f"{warm:.2f} s", "5 s", warm < 5)
        print(f"    {stats}", flush=True)
    finally:
        cluster.close()


def two_processes(server_url: str, m: int, interval: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-sched2-"))
    cluster = Cluster(server_url, tmp)
    try:
        print(f"seeding {m} integrations (auto-sync every {interval} s, the shortest allowed) …", flush=True)
        cluster.seed(m, interval)
        ports = [cluster.start_hub("a"), cluster.start_hub("b")]
        window_start = datetime.now(timezone.utc) + timedelta(seconds=5)
        window_end = window_start + timedelta(seconds=3 * interval)
        wait = (window_end - datetime.now(timezone.utc)).total_seconds() + 20
        print(f"watching 3 intervals ({wait:.0f} s) with two hub processes …", flush=True)
        time.sleep(wait)
        lines = [m_.groups() for port in ports for m_ in RAN.finditer(cluster.log(port))]
        per_due = Counter()
        nodes = Counter()
        for _run, integration, due, node in lines:
            at = datetime.fromisoformat(due)
            if window_start <= at < window_end:
                per_due[(integration, at)] += 1
                nodes[node] += 1
        expected = set()
        for i in range(m):
            integration = f"int-bench-{i:06d}"
            at = last_fire(integration, interval, window_start)
            while at < window_end:
                if at >= window_start:
                    expected.add((integration, at))
                at += timedelta(seconds=interval)
        twice = sum(1 for n in per_due.values() if n > 1)
        missing = len(expected - set(per_due))
        db_runs = sum(1 for _id, integration, started in cluster.runs()
                      if window_start <= last_fire(integration, interval, started) < window_end)
        ok = twice == 0 and missing == 0 and db_runs == len(expected)
        line(f"{m} integrations × 3 intervals on 2 processes: runs", f"{len(per_due)}/{len(expected)}",
             "each due time once", ok)
        print(f"    run twice: {twice}; not run: {missing}; automatic runs in the database for those due times: {db_runs}",
              flush=True)
        split = ", ".join(f"process {i + 1}: {n} ({100 * n / max(1, sum(nodes.values())):.0f}%)"
                          for i, (_node, n) in enumerate(sorted(nodes.items())))
        print(f"    split: {split}", flush=True)
    finally:
        cluster.close()


def scheduling_only(server_url: str, count: int, interval: int, seconds: int) -> None:
    """The same scheduling layer (APScheduler 4, its SQLAlchemy store in the hub's schema,
    the hub's PostgreSQL broker) firing jobs that do nothing, at the same rate as
    figure 1: the part of the start lag that is scheduling, not syncing."""
    from apscheduler import AsyncScheduler, CoalescePolicy, Schedule
    from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
    from apscheduler.executors.async_ import AsyncJobExecutor
    from apscheduler.triggers.interval import IntervalTrigger
    from sqlalchemy.ext.asyncio import create_async_engine

    from axhub.scheduler.grid import next_fire
    from axhub.scheduler.service import SCHEMA, _notify_broker

    url = fresh_database(server_url)

    async def run() -> tuple[list[float], float]:
        engine = create_async_engine(url)
        store = SQLAlchemyDataStore(engine, schema=SCHEMA)
        aps = AsyncScheduler(store, _notify_broker().from_async_sqla_engine(engine),
                             job_executors={"async": AsyncJobExecutor()})
        try:
            async with aps:
                await aps.configure_task("noop", func=_noop, max_running_jobs=None)
                start = datetime.now(timezone.utc) + timedelta(seconds=3)
                table = store.get_table_definitions().tables[f"{SCHEMA}.schedules"]
                rows = []
                for i in range(count):
                    trigger = IntervalTrigger(seconds=interval, start_time=next_fire(f"k{i}", interval, start))
                    sch = Schedule(id=f"s{i}", task_id="noop", trigger=trigger, coalesce=CoalescePolicy.latest,
                                   job_executor="async")
                    sch.next_fire_time = trigger.next()
                    rows.append(sch.marshal(store.serializer))
                async with engine.begin() as conn:
                    await conn.execute(table.insert(), rows)
                await aps.start_in_background()
                cpu0, wall0 = time.process_time(), time.monotonic()
                await asyncio.sleep(seconds)
                cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
                await aps.stop()
        finally:
            await engine.dispose()
        return _LAGS, cpu

    try:
        lags, cpu = asyncio.run(run())
        line(f"scheduling alone (no-op jobs, {count / interval:.1f}/s): start lag p99", f"{p99(lags):.3f} s",
             "(reference)", True)
        print(f"    {len(lags)} jobs in {seconds} s; max {max(lags, default=float('nan')):.3f} s; "
              f"CPU {100 * cpu:.0f}% of one core", flush=True)
    finally:
        drop_database(url)


_LAGS: list[float] = []


async def _noop() -> None:
    from apscheduler import current_job

    _LAGS.append((datetime.now(timezone.utc) - current_job.get().scheduled_fire_time).total_seconds())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the integration counts (10,000 and 2,000)")
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--short-interval", type=int, default=60, help="the shortest allowed interval (AXHUB_SYNC_INTERVAL_MIN)")
    parser.add_argument("--only", choices=["one", "two", "scheduling"])
    args = parser.parse_args()
    n, m = max(1, int(10_000 * args.scale)), max(1, int(2_000 * args.scale))
    print(f"axhub scheduler benchmark on PostgreSQL, {os.cpu_count()} CPUs", flush=True)
    shortest = min(args.interval, args.short_interval)
    if shortest < 60:  # a quick trial run: let the hubs accept intervals under the API's minimum
        os.environ["AXHUB_SYNC_INTERVAL_MIN"] = str(shortest)
    if args.only in (None, "scheduling"):
        # 10,000 every 300 s is 33 fires a second: the same rate, for one minute.
        scheduling_only(args.database_url, max(1, int(n * 60 / args.interval)), 60, 65)
    if args.only in (None, "one"):
        one_process(args.database_url, n, args.interval)
    if args.only in (None, "two"):
        two_processes(args.database_url, m, args.short_interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
