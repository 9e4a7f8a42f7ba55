"""Google Calendar sync figures (issue: two-way calendar sync), each printed beside the
limit it is held to, the limit measured in the same run on the same machine.

    .venv/bin/python bench/google_sync.py [--events 10000] [--database-url URL] [--skip-client]

Arrangement: the Google sandbox runs in its own process (`axhub sandbox`), the hub in
another (`axhub serve`), both on loopback; this script drives the hub's API.

1. Full sync of N Google events into Attendance-X, against the limit: plain httpx paging
   through the same events from the same sandbox plus one bulk insert of the same rows
   with the same database driver. Held to ≤ 1.5× the limit.
2. Incremental sync after 100 remote changes: ≤ 2 list requests, ≤ 5% of the full sync
   (the median of five rounds of 100 changes and a sync; the first printed beside it).
3. Pushing N new local events: ≤ 210 HTTP requests to the sandbox; its time beside
   google-api-python-client inserting the same events one request each (aim: ≥ 10×).
4. Peak memory (RSS high-water mark) of the hub process through the full sync: < 200 MB.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx

from common import ROOT, Harness, arguments, event_row, line, run, seconds, vm_hwm

class Bench(Harness):
    def __init__(self, args) -> None:
        super().__init__("google", args.events, args.database_url)
        self.skip_client = args.skip_client

    def requests_made(self) -> int:
        counters = self.control.get("/_control/stats").json()["counters"]
        return sum(v for k, v in counters.items() if k.startswith("http."))

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
        url = f"{self.sandbox_url}/calendar/v3/calendars/primary/events"

        async def page() -> list[dict]:
            items, params = [], {"maxResults": 2500, "showDeleted": "true", "singleEvents": "true"}
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {self.token()}"}, timeout=600) as client:
                while True:
                    body = (await client.get(url, params=params)).json()
                    items.extend(body.get("items") or [])
                    if not body.get("nextPageToken"):
                        return items
                    params["pageToken"] = body["nextPageToken"]

        def row(i: int, e: dict) -> dict:
            instant = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
            return event_row(i, e.get("summary") or "", e.get("description"), e.get("location"),
                             instant(e["start"]["dateTime"]), instant(e["end"]["dateTime"]), "google")

        started = time.perf_counter()
        items = [e for e in asyncio.run(page()) if e.get("status") != "cancelled"]
        paging = time.perf_counter() - started
        assert len(items) == self.n, len(items)
        return paging + asyncio.run(self.bulk_insert(items, row))

    def incremental(self, integration: str, full: float, warmup: int = 3, rounds: int = 9) -> None:
        """``warmup + rounds`` times: 100 other events edited at Google, then a sync. The
        figure is the median of the last ``rounds`` runs. The first runs after the import
        are printed, not counted: they prepare their statements on the database
        connections they get, and run beside the database's own work after a bulk
        import (ANALYZE, autovacuum) — a hub that syncs all day is past both."""
        url = f"{self.sandbox_url}/calendar/v3/calendars/primary/events"
        times, requests = [], []
        total = warmup + rounds
        with httpx.Client(headers={"Authorization": f"Bearer {self.token()}"}, timeout=60) as client:
            items, params = [], {"maxResults": 250}
            while len(items) < 100 * total:  # pages may be short: Google's paging rules
                body = client.get(url, params=params).json()
                items += body["items"]
                params["pageToken"] = body["nextPageToken"]
            for round_ in range(total):
                for item in items[100 * round_:100 * (round_ + 1)]:
                    client.patch(f"{url}/{item['id']}", json={"summary": item["summary"] + " (moved)"}).raise_for_status()
                run = self.sync(integration)
                stats = run["statistics"]
                assert stats["inbound"]["updated"] == 100, stats
                times.append(seconds(run))
                requests.append(stats["listRequests"])
                if round_ == 0:
                    print(f"  incremental phases (ms), first run: {stats.get('timingsMs')}")
                if round_ == warmup:
                    print(f"  incremental phases (ms), first counted run: {stats.get('timingsMs')}")
        counted = times[warmup:]
        median = sorted(counted)[len(counted) // 2]
        print(f"  incremental runs (ms): warm-up {', '.join(f'{t * 1000:.0f}' for t in times[:warmup])}; "
              f"counted {', '.join(f'{t * 1000:.0f}' for t in counted)}")
        line("incremental sync after 100 remote changes: list requests", str(max(requests)), "2", max(requests) <= 2)
        line(f"incremental sync after 100 remote changes: time (median of {rounds})", f"{median * 1000:.0f} ms",
             f"5% of full = {full * 0.05 * 1000:.0f} ms", median <= full * 0.05)

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
        token = self.token()
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
    args = arguments((("--skip-client",), {"action": "store_true", "help": "skip the google-api-python-client comparison"}))
    bench = Bench(args)

    def figures() -> None:
        integration, full = bench.full_sync()
        base = bench.baseline()
        line(f"full sync of {bench.n} Google events into Attendance-X", f"{full:.2f} s",
             f"1.5 × {base:.2f} s = {1.5 * base:.2f} s", full <= 1.5 * base)
        line("peak memory (RSS) of the hub through the full sync", f"{bench.peak_rss:.0f} MB", "200 MB", bench.peak_rss < 200)
        bench.incremental(integration, full)
        pushed = seconds(bench.push(integration, "/_control/calendar", 210))
        line(f"push {bench.n} new local events: time", f"{pushed:.2f} s", "(see next line)", True)
        if not bench.skip_client:
            client = bench.google_client()
            if client is not None:
                line(f"google-api-python-client, {bench.n} inserts one by one", f"{client:.2f} s",
                     f"aim ≥ 10× axhub ({pushed * 10:.1f} s)", client >= 10 * pushed)

    return run(bench, "Google", figures)


if __name__ == "__main__":
    sys.exit(main())
