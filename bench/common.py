"""What the benchmarks share: a sandbox process and a hub process on loopback, a
fresh database per run, the hub's API, and the pieces of the limits they are held to
(a bulk insert of the same rows with the same driver; local events written straight
into the database)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from axhub.testing import free_port, wait_until_up as up

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(server_url: str, prefix: str = "axhub_bench") -> str:
    """An empty database on the given PostgreSQL server, for this run only."""
    import asyncpg

    from axhub.config import normalise_database_url

    url = normalise_database_url(server_url)
    name = f"{prefix}_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{url.rpartition('/')[0]}/{name}"


def drop_database(database_url: str) -> None:
    """Drop a database :func:`fresh_database` made (nothing to do for SQLite)."""
    if not database_url.startswith("postgresql"):
        return
    import asyncpg

    server, _, name = database_url.replace("postgresql+asyncpg://", "postgresql://").rpartition("/")

    async def drop() -> None:
        conn = await asyncpg.connect(f"{server}/postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def vm_hwm(pid: int) -> float:
    """Peak resident memory of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seconds(run: dict) -> float:
    """A run's own time, from the hub's record: started to completed."""
    parse = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return (parse(run["completedAt"]) - parse(run["startedAt"])).total_seconds()


def line(label: str, value: str, limit: str, ok: bool) -> None:
    print(f"{label:<58} {value:>16}   limit {limit:<22} {'OK' if ok else 'OVER'}", flush=True)


def arguments(*extra: tuple[tuple, dict]) -> argparse.Namespace:
    """--events and --database-url (default AXHUB_BENCH_DATABASE_URL), and ``extra``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL"))
    for args, kwargs in extra:
        parser.add_argument(*args, **kwargs)
    return parser.parse_args()


def run(bench: "Harness", title: str, figures: Callable[[], None]) -> int:
    print(f"axhub {title} sync benchmark: {bench.n} events, database {bench.database_url.split(':')[0]}", flush=True)
    bench.start()
    try:
        figures()
    finally:
        bench.stop()
    return 0


class Harness:
    """The sandbox (``axhub sandbox``) and the hub (``axhub serve``) of one provider, each
    in its own process, and clients on the hub's API and the sandbox."""

    def __init__(self, provider: str, events: int, database_url: str | None) -> None:
        self.provider = provider
        self.n = events
        self.tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-"))
        self.database_url = fresh_database(database_url) if database_url else \
            f"sqlite+aiosqlite:///{self.tmp / 'axhub.db'}"
        self.sandbox_port, self.hub_port = free_port(), free_port()
        self.env = {**os.environ, "AXHUB_DATABASE_URL": self.database_url, "AXHUB_DATA_DIR": str(self.tmp),
                    "AXHUB_SANDBOX": "1", "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}", "AXHUB_PUSH": "0",
                    "AXHUB_PLUGINS": provider, "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{self.hub_port}",
                    "AXHUB_LOG_LEVEL": "WARNING"}
        self.procs: list[subprocess.Popen] = []
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}/{provider}"

    def start(self) -> None:
        cli = [sys.executable, "-m", "axhub.cli"]
        self.procs.append(subprocess.Popen([*cli, "sandbox", "--port", str(self.sandbox_port)], env=self.env))
        up(f"{self.sandbox_url}/_control/stats")
        self.hub = subprocess.Popen([*cli, "serve", "--sandbox", "--port", str(self.hub_port)], env=self.env)
        self.procs.append(self.hub)
        up(f"http://127.0.0.1:{self.hub_port}/schema/openapi.json")
        token = subprocess.run([*cli, "token", "create", "--org", "bench", "--role", "admin"], env=self.env,
                               check=True, capture_output=True, text=True).stdout.strip()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.hub_port}", headers={"Authorization": f"Bearer {token}"},
                                timeout=600)
        self.control = httpx.Client(base_url=self.sandbox_url, timeout=600)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=30)
        drop_database(self.database_url)

    def token(self) -> str:
        """The provider access token the hub holds (the sandbox hands it to tests)."""
        return self.control.get("/_control/tokens").json()["accessTokens"][-1]

    def sync(self, integration: str, **body) -> dict:
        sync_id = self.api.post(f"/api/integrations/{integration}/sync", json=body).json()["data"]["syncId"]
        return self.wait(integration, sync_id)

    def wait(self, integration: str, sync_id: str) -> dict:
        while True:
            data = self.api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]
            if data["status"] in ("completed", "partial", "failed"):
                return data
            time.sleep(0.02)

    def connect(self) -> tuple[str, str]:
        """A new integration: its id and its initial sync's id."""
        from axhub.testing import follow_consent

        # No automatic runs: a benchmark times the runs it starts, and a scheduled run of
        # an integration connected earlier (same organisation, same calendar) landing in
        # the middle of one would be timed with it.
        data = self.api.post(f"/api/integrations/{self.provider}/connect",
                             json={"settings": {"autoSync": False}}).json()["data"]
        back = follow_consent(data["authUrl"])
        done = self.api.post(f"/api/integrations/{self.provider}/callback",
                             json={"code": back["code"], "state": back["state"]}).json()["data"]
        return done["integrationId"], done["initialSync"]["syncId"]

    def requests_made(self) -> int:
        """HTTP requests the sandbox has seen so far (each provider counts its own way)."""
        raise NotImplementedError

    def push(self, previous: str, calendar: str, limit: int) -> dict:
        """N new local events, and no others, pushed to an empty calendar of a fresh
        integration: the previous one disconnected, its calendar emptied (the sandbox's
        ``calendar`` control route), the events it imported forgotten: the run. How many
        HTTP requests the sandbox saw is printed beside ``limit``."""
        self.api.delete(f"/api/integrations/{previous}").raise_for_status()
        self.control.delete(calendar)
        self.clear_local_events()
        integration, sync_id = self.connect()
        self.wait(integration, sync_id)
        self.seed_local_events()
        before = self.requests_made()
        run = self.sync(integration, direction="attendance_to_external")
        made = self.requests_made() - before
        assert run["statistics"]["outbound"]["created"] == self.n, run["statistics"]
        print(f"  push phases (ms): {run['statistics'].get('timingsMs')}")
        line(f"push {self.n} new local events: HTTP requests to the sandbox", str(made), str(limit), made <= limit)
        return run

    # -- the limits' parts -----------------------------------------------------------------
    async def bulk_insert(self, items: list[dict[str, Any]], row: Any) -> float:
        """One bulk insert of ``row(item)`` for each item with the hub's driver, in seconds
        (into a scratch organisation, removed after)."""
        from sqlalchemy import insert
        from sqlalchemy.ext.asyncio import create_async_engine

        from axhub.db.models import Base, Event

        engine = create_async_engine(self.database_url.replace("axhub.db", "baseline.db") if "sqlite" in self.database_url
                                     else self.database_url)
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: Base.metadata.tables["events"].create(c, checkfirst=True))
            await conn.execute(Base.metadata.tables["events"].delete().where(Event.org_id == "baseline"))
        started = time.perf_counter()
        rows = [row(i, item) for i, item in enumerate(items)]
        async with engine.begin() as conn:
            await conn.execute(insert(Event.__table__), rows)
        elapsed = time.perf_counter() - started
        async with engine.begin() as conn:
            await conn.execute(Base.metadata.tables["events"].delete().where(Event.org_id == "baseline"))
        await engine.dispose()
        return elapsed

    def clear_local_events(self) -> None:
        """Forget the organisation's events (rows, change log), as if it had none."""
        from sqlalchemy import delete
        from sqlalchemy.ext.asyncio import create_async_engine

        from axhub.db.models import Event, EventChange

        async def clear() -> None:
            engine = create_async_engine(self.database_url)
            async with engine.begin() as conn:
                await conn.execute(delete(EventChange).where(EventChange.org_id == "bench"))
                await conn.execute(delete(Event).where(Event.org_id == "bench"))
            await engine.dispose()

        asyncio.run(clear())

    def seed_local_events(self) -> None:
        """N new Attendance-X events with their change log entries, written straight into
        the database (setting them up through POST /api/events would bench the events API)."""
        from sqlalchemy import insert
        from sqlalchemy.ext.asyncio import create_async_engine

        from axhub.db.models import Event, EventChange

        now = datetime.now(timezone.utc)
        start = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
        rows = [{"id": f"evt-bench-{i:05d}", "org_id": "bench", "title": f"Local {i:05d}", "description": "Bench event",
                 "location": "Room 1", "start_at": start + timedelta(hours=i), "end_at": start + timedelta(hours=i, minutes=45),
                 "timezone": "Europe/Paris", "type": "training", "private": False, "organizer": None,
                 "attendees": [{"email": "paul@example.com", "name": "Paul", "role": "attendee"}], "meeting": None,
                 "source": "attendance-x", "version": 1, "created_at": now, "updated_at": now, "deleted_at": None}
                for i in range(self.n)]

        async def seed() -> None:
            engine = create_async_engine(self.database_url)
            async with engine.begin() as conn:
                await conn.execute(insert(Event), rows)
                await conn.execute(insert(EventChange), [{"org_id": "bench", "event_id": r["id"], "at": now} for r in rows])
            await engine.dispose()

        asyncio.run(seed())


def event_row(i: int, title: str, description: str | None, location: str | None, start: datetime, end: datetime,
              source: str) -> dict[str, Any]:
    """An events row of the baseline organisation, as the limit's bulk insert writes it."""
    now = datetime.now(timezone.utc)
    return {"id": f"base-{i}", "org_id": "baseline", "title": title, "description": description, "location": location,
            "start_at": start, "end_at": end, "timezone": "UTC", "type": "external", "private": False, "organizer": None,
            "attendees": [], "meeting": None, "source": source, "version": 1, "created_at": now, "updated_at": now,
            "deleted_at": None}
