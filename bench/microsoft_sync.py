"""Outlook (Microsoft Graph) sync figures (issue: Outlook calendar sync), each printed
beside the limit it is held to, the limit measured in the same run on the same machine.

    .venv/bin/python bench/microsoft_sync.py [--events 10000] [--database-url URL]

Arrangement: the Microsoft sandbox runs in its own process (`axhub sandbox`), the hub in
another (`axhub serve`), both on loopback; this script drives the hub's API
(AXHUB_BENCH_DATABASE_URL=postgresql://… runs it on a fresh PostgreSQL database).

1. Full sync of N Outlook events into Attendance-X, against the limit: plain httpx
   paging through the same calendarView delta pages (same window, same page size) from
   the same sandbox plus one bulk insert of the same rows with the same database
   driver. Held to ≤ 1.5× the limit.
2. Incremental sync after 100 remote changes (the deltaLink): ≤ 2 list requests.
3. Pushing N new local events: ≤ 510 HTTP requests to the sandbox ($batch of 20).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx

from common import Harness, arguments, event_row, line, run, seconds

from axhub_microsoft.calendar import READ_PREFER as PREFER  # the same pages the adapter asks for


class Bench(Harness):
    def __init__(self, args) -> None:
        super().__init__("microsoft", args.events, args.database_url)

    def requests_made(self) -> int:
        counters = self.control.get("/_control/stats").json()["counters"]
        return counters.get("graph.http", 0) + sum(v for k, v in counters.items() if k.startswith("token."))

    def full_sync(self) -> tuple[str, float]:
        self.control.post("/_control/outlook/seed", json={"count": self.n, "start": "2026-01-05T08:00:00Z", "prefix": "Bench"})
        integration, sync_id = self.connect()  # the initial sync is the full sync
        run = self.wait(integration, sync_id)
        assert run["status"] == "completed", run
        assert run["statistics"]["inbound"]["created"] == self.n, run["statistics"]
        print(f"  full sync phases (ms): {run['statistics'].get('timingsMs')}")
        return integration, seconds(run)

    def baseline(self) -> float:
        """Plain httpx following the same delta pages + one bulk insert of the same rows."""
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        window = {"startDateTime": f"{today - timedelta(days=365):%Y-%m-%dT%H:%M:%SZ}",
                  "endDateTime": f"{today + timedelta(days=1095):%Y-%m-%dT%H:%M:%SZ}"}

        async def page() -> list[dict]:
            items: list[dict] = []
            url: str | None = f"{self.sandbox_url}/v1.0/me/calendar/calendarView/delta"
            params: dict | None = window
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {self.token()}", "Prefer": PREFER},
                                         timeout=600) as client:
                while url:
                    body = (await client.get(url, params=params)).json()
                    items.extend(body["value"])
                    url, params = body.get("@odata.nextLink"), None
            return items

        def row(i: int, e: dict) -> dict:
            instant = lambda v: datetime.fromisoformat(v["dateTime"][:26]).replace(tzinfo=timezone.utc)  # noqa: E731
            return event_row(i, e.get("subject") or "", (e.get("body") or {}).get("content") or None,
                             (e.get("location") or {}).get("displayName") or None, instant(e["start"]), instant(e["end"]),
                             "microsoft")

        started = time.perf_counter()
        items = [e for e in asyncio.run(page()) if "@removed" not in e]
        paging = time.perf_counter() - started
        assert len(items) == self.n, len(items)
        return paging + asyncio.run(self.bulk_insert(items, row))

    def incremental(self, integration: str) -> None:
        graph = f"{self.sandbox_url}/v1.0"
        events = self.control.get("/_control/outlook/events").json()["value"][:100]
        with httpx.Client(headers={"Authorization": f"Bearer {self.token()}"}, timeout=60) as client:
            for event in events:
                client.patch(f"{graph}/me/events/{event['id']}", json={"subject": event["subject"] + " (moved)"}).raise_for_status()
        run = self.sync(integration)
        stats = run["statistics"]
        assert stats["inbound"]["updated"] == 100, stats
        line("incremental sync after 100 remote changes: list requests", str(stats["listRequests"]), "2",
             stats["listRequests"] <= 2)


def main() -> int:
    bench = Bench(arguments())

    def figures() -> None:
        integration, full = bench.full_sync()
        base = bench.baseline()
        line(f"full sync of {bench.n} Outlook events into Attendance-X", f"{full:.2f} s",
             f"1.5 × {base:.2f} s = {1.5 * base:.2f} s", full <= 1.5 * base)
        bench.incremental(integration)
        pushed = seconds(bench.push(integration, "/_control/outlook", 510))
        line(f"push {bench.n} new local events: time", f"{pushed:.2f} s", "(informative)", True)

    return run(bench, "Outlook", figures)


if __name__ == "__main__":
    sys.exit(main())
