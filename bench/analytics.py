"""Analytics figures (issue: integration analytics), printed beside the limit.

    .venv/bin/python bench/analytics.py [--calls 1000000] [--runs 50000] [--orgs 100] [--database-url URL]

With 1,000,000 recorded provider calls and 50,000 sync runs across 100 organisations
(spread over the last 90 days), ``GET /api/integrations/analytics/metrics`` answers in
under 200 ms at the 95th percentile, for every period. The hub runs as its own process
(``axhub serve``) and is asked over HTTP, as the Attendance-X app asks it.

The history is written straight into the database (recording a million real calls would
bench the sandboxes, not analytics).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, fresh_database, line, up  # noqa: E402

PROVIDERS = ("google", "microsoft", "slack", "zoom")
CODES = ("RATE_LIMIT_EXCEEDED", "PERMISSION_DENIED", "CONNECTION_ERROR", "INVALID_CREDENTIALS")


async def seed(url: str, calls: int, runs: int, orgs: int) -> None:
    from sqlalchemy import insert

    from axhub.db import Database, Integration, ProviderCall, SyncRun

    db = Database(url)
    await db.upgrade()
    rnd = random.Random(7)
    now = datetime.now(timezone.utc)
    span = 90 * 86400
    integrations = []
    for o in range(orgs):
        for p in PROVIDERS:
            row = {c.name: None for c in Integration.__table__.c}
            row.update(id=f"int-{o}-{p}", org_id=f"org-{o}", provider=p, type="calendar", name=p, status="connected",
                       settings={}, notifications={}, requested_scopes=[], granted_scopes=[], permissions=[], account={},
                       connected_by="bench", connected_at=now, updated_at=now)
            integrations.append(row)
    async with db.session() as s, s.begin():
        await s.execute(insert(Integration.__table__), integrations)
    chunk = 20000
    for start in range(0, calls, chunk):
        rows = []
        for _ in range(min(chunk, calls - start)):
            o, p = rnd.randrange(orgs), rnd.choice(PROVIDERS)
            rows.append({"at": now - timedelta(seconds=rnd.randrange(span)), "org_id": f"org-{o}",
                         "integration_id": f"int-{o}-{p}", "provider": p, "method": "GET", "host": "api.example.com",
                         "status": 200 if rnd.random() > 0.05 else 429, "duration_ms": rnd.uniform(20, 900),
                         "bytes_out": 0, "bytes_in": rnd.randrange(200, 20000), "error": None})
        async with db.session() as s, s.begin():
            await s.execute(insert(ProviderCall.__table__), rows)
    rows = []
    for i in range(runs):
        o, p = rnd.randrange(orgs), rnd.choice(PROVIDERS)
        at = now - timedelta(seconds=rnd.randrange(span))
        status = rnd.choices(("completed", "partial", "failed"), (90, 6, 4))[0]
        rows.append({"id": f"sync-{i}", "integration_id": f"int-{o}-{p}", "org_id": f"org-{o}", "provider": p,
                     "status": status, "type": "automatic", "direction": "bidirectional", "scope": "all", "options": {},
                     "dry_run": False, "error_count": 0 if status == "completed" else 1, "triggered_by": {},
                     "statistics": {}, "errors": [], "conflicts": [], "plan": None, "message": None,
                     "error_code": None if status == "completed" else rnd.choice(CODES), "started_at": at,
                     "completed_at": at, "duration_ms": rnd.randrange(50, 5000)})
    for start in range(0, len(rows), chunk):
        async with db.session() as s, s.begin():
            await s.execute(insert(SyncRun.__table__), rows[start:start + chunk])
    await db.settle(("provider_calls", "sync_runs", "integrations"))
    await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=50, help="requests per period")
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-"))
    url = fresh_database(args.database_url) if args.database_url else f"sqlite+aiosqlite:///{tmp / 'axhub.db'}"
    print(f"axhub analytics benchmark: {args.calls} provider calls, {args.runs} sync runs, {args.orgs} organisations, "
          f"database {url.split(':')[0]}", flush=True)
    started = time.perf_counter()
    asyncio.run(seed(url, args.calls, args.runs, args.orgs))
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)

    port = free_port()
    env = {**os.environ, "AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp), "AXHUB_SANDBOX": "1",
           "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{port}", "AXHUB_LOG_LEVEL": "WARNING"}
    cli = [sys.executable, "-m", "axhub.cli"]
    hub = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env)
    try:
        up(f"http://127.0.0.1:{port}/schema/openapi.json")
        from axhub.auth import create_token
        from axhub.config import Config

        secret = Config.from_env(env).jwt_secret
        rnd = random.Random(11)
        all_times = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            def ask(org: str, period: str) -> float:
                token = create_token(secret, org=org, role="admin", user="bench")
                t = time.perf_counter()
                response = c.get("/api/integrations/analytics/metrics", params={"period": period},
                                 headers={"Authorization": f"Bearer {token}"})
                elapsed = time.perf_counter() - t
                response.raise_for_status()
                return elapsed

            ask("org-0", "week")  # the first request pays for imports and connections
            for period in ("day", "week", "month", "quarter"):
                times = [ask(f"org-{rnd.randrange(args.orgs)}", period) for _ in range(args.requests)]
                all_times += times
                p95 = statistics.quantiles(times, n=20)[-1] * 1000
                line(f"metrics, period={period}: p95 over {len(times)} requests", f"{p95:.0f} ms", "200 ms", p95 < 200)
        p95 = statistics.quantiles(all_times, n=20)[-1] * 1000
        line("metrics, every period: p95", f"{p95:.0f} ms", "200 ms", p95 < 200)
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
