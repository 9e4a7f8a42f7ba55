"""Google Calendar sync figures (issue: two-way calendar sync), each printed beside the
limit it is held to, the limit measured in the same run on the same machine.

    .venv/bin/python bench/google_sync.py [--events 10000] [--database-url URL] [--skip-client]

Arrangement: the Google sandbox runs in its own process (`axhub sandbox`), the hub in
another (`axhub serve`), both on loopback; this script drives the hub's API.

1. Full sync of N Google events into Attendance-X, against the limit: plain httpx paging
   through the same events from the same sandbox plus one bulk insert of the same rows
   with the same database driver. Held to ≤ 1.5× the limit.
2. Incremental sync after 100 remote changes: ≤ 2 list requests, ≤ 5% of the full sync.
3. Pushing N new local events: ≤ 210 HTTP requests to the sandbox; its time beside
   google-api-python-client inserting the same events one request each (aim: ≥ 10×).
4. Peak memory (RSS high-water mark) of the hub process through the full sync: < 200 MB.
"""

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

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def fresh_database(server_url: str) -> str:
    """An empty database on the given PostgreSQL server, for this run only."""
    import asyncpg

    from axhub.config import normalise_database_url

    url = normalise_database_url(server_url)
    name = f"axhub_bench_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{url.rpartition('/')[0]}/{name}"


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


class Bench:
    def __init__(self, args) -> None:
        self.n = args.events
        self.tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-"))
        self.database_url = fresh_database(args.database_url) if args.database_url else \
            f"sqlite+aiosqlite:///{self.tmp / 'axhub.db'}"
        self.sandbox_port, self.hub_port = free_port(), free_port()
        self.env = {**os.environ, "AXHUB_DATABASE_URL": self.database_url, "AXHUB_DATA_DIR": str(self.tmp),
                    "AXHUB_SANDBOX": "1", "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}",
                    "AXHUB_PLUGINS": "google", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{self.hub_port}",
                    "AXHUB_LOG_LEVEL": "WARNING"}
        self.procs: list[subprocess.Popen] = []
        self.skip_client = args.skip_client

    def start(self) -> None:
        cli = [sys.executable, "-m", "axhub.cli"]
        self.procs.append(subprocess.Popen([*cli, "sandbox", "--port", str(self.sandbox_port)], env=self.env))
        up(f"http://127.0.0.1:{self.sandbox_port}/google/_control/stats")
        self.hub = subprocess.Popen([*cli, "serve", "--sandbox", "--port", str(self.hub_port)], env=self.env)
        self.procs.append(self.hub)
        up(f"http://127.0.0.1:{self.hub_port}/schema/openapi.json")
        token = subprocess.run([*cli, "token", "create", "--org", "bench", "--role", "admin"], env=self.env,
                               check=True, capture_output=True, text=True).stdout.strip()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.hub_port}", headers={"Authorization": f"Bearer {token}"},
                                timeout=600)
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.sandbox_port}/google", timeout=600)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=30)
        if self.database_url.startswith("postgresql"):
            import asyncpg

            server, _, name = self.database_url.replace("postgresql+asyncpg://", "postgresql://").rpartition("/")

            async def drop() -> None:
                conn = await asyncpg.connect(f"{server}/postgres")
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()

            asyncio.run(drop())

    def requests_made(self) -> int:
        counters = self.control.get("/_control/stats").json()["counters"]
        return sum(v for k, v in counters.items() if k.startswith("http."))

    def sync(self, integration: str, **body) -> dict:
        sync_id = self.api.post(f"/api/integrations/{integration}/sync", json=body).json()["data"]["syncId"]
        return self.wait(integration, sync_id)

    def wait(self, integration: str, sync_id: str) -> dict:
        while True:
            data = self.api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]
            if data["status"] in ("completed", "partial", "failed"):
                return data
            time.sleep(0.02)

    def connect(self) -> str:
        from axhub.testing import follow_consent

        data = self.api.post("/api/integrations/google/connect", json={}).json()["data"]
        back = follow_consent(data["authUrl"])
        done = self.api.post("/api/integrations/google/callback", json={"code": back["code"], "state": back["state"]}).json()["data"]
        return done["integrationId"], done["initialSync"]["syncId"]

    # -- the figures ---------------------------------------------------------------------
    def full_sync(self) -> tuple[str, float]:
        self.control.post("/_control/calendar/seed", json={"count": self.n, "start": "2026-01-05T08:00:00Z", "prefix": "Bench"})
        rss_before = vm_hwm(self.hub.pid)
        integration, sync_id = self.connect()  # the initial sync is the full sync
        run = self.wait(integration, sync_id)
        wall = seconds(run)
        assert run["status"] == "completed", run
        assert run["statistics"]["inbound"]["created"] == self.n, run["statistics"]
        self.peak_rss = vm_hwm(self.hub.pid)
        print(f"  full sync phases (ms): {run['statistics'].get('timingsMs')}")
        self.rss_before = rss_before
        return integration, wall

    def baseline(self) -> float:
        """Plain httpx paging through the same events + one bulk insert of the same rows."""
        from sqlalchemy import insert
        from sqlalchemy.ext.asyncio import create_async_engine

        from axhub.db.models import Base, Event

        token = self.control.get("/_control/tokens").json()["accessTokens"][-1]
        url = f"http://127.0.0.1:{self.sandbox_port}/google/calendar/v3/calendars/primary/events"

        async def run() -> float:
            engine = create_async_engine(self.database_url.replace("axhub.db", "baseline.db") if "sqlite" in self.database_url
                                         else self.database_url)
            async with engine.begin() as conn:
                await conn.run_sync(lambda c: Base.metadata.tables["events"].create(c, checkfirst=True))
                await conn.execute(Base.metadata.tables["events"].delete().where(Event.org_id == "baseline"))
            started = time.perf_counter()
            items, params = [], {"maxResults": 2500, "showDeleted": "true", "singleEvents": "true"}
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
                while True:
                    body = (await client.get(url, params=params)).json()
                    items.extend(body.get("items") or [])
                    if not body.get("nextPageToken"):
                        break
                    params["pageToken"] = body["nextPageToken"]
            now = datetime.now(timezone.utc)
            rows = [{"id": f"base-{i}", "org_id": "baseline", "title": e.get("summary") or "", "description": e.get("description"),
                     "location": e.get("location"), "start_at": datetime.fromisoformat(e["start"]["dateTime"].replace("Z", "+00:00")),
                     "end_at": datetime.fromisoformat(e["end"]["dateTime"].replace("Z", "+00:00")), "timezone": "UTC",
                     "type": "external", "private": False, "organizer": None, "attendees": [], "meeting": None,
                     "source": "google", "version": 1, "created_at": now, "updated_at": now, "deleted_at": None}
                    for i, e in enumerate(items) if e.get("status") != "cancelled"]
            async with engine.begin() as conn:
                await conn.execute(insert(Event.__table__), rows)
            elapsed = time.perf_counter() - started
            async with engine.begin() as conn:
                await conn.execute(Base.metadata.tables["events"].delete().where(Event.org_id == "baseline"))
            await engine.dispose()
            assert len(rows) == self.n, len(rows)
            return elapsed

        return asyncio.run(run())

    def incremental(self, integration: str, full: float) -> None:
        token = self.control.get("/_control/tokens").json()["accessTokens"][-1]
        url = f"http://127.0.0.1:{self.sandbox_port}/google/calendar/v3/calendars/primary/events"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            items, params = [], {"maxResults": 250}
            while len(items) < 100:  # pages may be short: Google's paging rules
                body = client.get(url, params=params).json()
                items += body["items"]
                params["pageToken"] = body["nextPageToken"]
            for item in items[:100]:
                client.patch(f"{url}/{item['id']}", json={"summary": item["summary"] + " (moved)"}).raise_for_status()
        run = self.sync(integration)
        elapsed = seconds(run)
        stats = run["statistics"]
        assert stats["inbound"]["updated"] == 100, stats
        print(f"  incremental phases (ms): {stats.get('timingsMs')}")
        line("incremental sync after 100 remote changes: list requests", str(stats["listRequests"]), "2", stats["listRequests"] <= 2)
        line("incremental sync after 100 remote changes: time", f"{elapsed * 1000:.0f} ms",
             f"5% of full = {full * 0.05 * 1000:.0f} ms", elapsed <= full * 0.05)

    def push(self) -> tuple[float, str]:
        """N new local events pushed to an empty calendar of a fresh integration."""
        import asyncio

        from sqlalchemy import insert
        from sqlalchemy.ext.asyncio import create_async_engine

        from axhub.db.models import Event, EventChange

        self.control.delete("/_control/calendar")
        integration, sync_id = self.connect()
        self.wait(integration, sync_id)
        # Setting up 10,000 events through POST /api/events would bench the events API;
        # they are written straight into the database instead.
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
                # ...with the change log entries the events API writes beside each change.
                await conn.execute(insert(EventChange), [{"org_id": "bench", "event_id": r["id"], "at": now} for r in rows])
            await engine.dispose()

        asyncio.run(seed())
        before = self.requests_made()
        run = self.sync(integration, direction="attendance_to_external")
        elapsed = seconds(run)
        made = self.requests_made() - before
        assert run["statistics"]["outbound"]["created"] == self.n, run["statistics"]
        line(f"push {self.n} new local events: HTTP requests to the sandbox", str(made), "210", made <= 210)
        return elapsed, integration

    def google_client(self) -> float | None:
        """google-api-python-client inserting the same events one request each."""
        try:
            from googleapiclient.discovery import build_from_document
            from googleapiclient.http import HttpRequest  # noqa: F401
        except ImportError:
            print("  (google-api-python-client is not installed: pip install google-api-python-client)")
            return None
        import json

        import httplib2

        self.control.delete("/_control/calendar")
        token = self.control.get("/_control/tokens").json()["accessTokens"][-1]
        document = json.loads((ROOT / "plugins" / "google" / "tests" / "data" / "google-calendar-v3.discovery.json").read_text())
        document["rootUrl"] = f"http://127.0.0.1:{self.sandbox_port}/google/"
        service = build_from_document(document, http=httplib2.Http())
        start = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
        started = time.perf_counter()
        for i in range(self.n):
            body = {"summary": f"Local {i:05d}", "description": "Bench event", "location": "Room 1",
                    "start": {"dateTime": (start + timedelta(hours=i)).isoformat(), "timeZone": "Europe/Paris"},
                    "end": {"dateTime": (start + timedelta(hours=i, minutes=45)).isoformat(), "timeZone": "Europe/Paris"},
                    "attendees": [{"email": "paul@example.com", "displayName": "Paul"}]}
            request = service.events().insert(calendarId="primary", body=body)
            request.headers["authorization"] = f"Bearer {token}"
            request.execute()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL"))
    parser.add_argument("--skip-client", action="store_true", help="skip the google-api-python-client comparison")
    args = parser.parse_args()
    bench = Bench(args)
    print(f"axhub Google sync benchmark: {args.events} events, database {bench.database_url.split(':')[0]}", flush=True)
    bench.start()
    try:
        integration, full = bench.full_sync()
        base = bench.baseline()
        line(f"full sync of {bench.n} Google events into Attendance-X", f"{full:.2f} s",
             f"1.5 × {base:.2f} s = {1.5 * base:.2f} s", full <= 1.5 * base)
        line("peak memory (RSS) of the hub through the full sync", f"{bench.peak_rss:.0f} MB", "200 MB", bench.peak_rss < 200)
        bench.incremental(integration, full)
        pushed, _ = bench.push()
        line(f"push {bench.n} new local events: time", f"{pushed:.2f} s", "(see next line)", True)
        if not bench.skip_client:
            client = bench.google_client()
            if client is not None:
                line(f"google-api-python-client, {bench.n} inserts one by one", f"{client:.2f} s",
                     f"aim ≥ 10× axhub ({pushed * 10:.1f} s)", client >= 10 * pushed)
    finally:
        bench.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
