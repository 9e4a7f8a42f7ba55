"""Outbound webhook figures (issue: webhooks plugin), each printed beside its limit, the
limit measured in the same run on the same machine.

    .venv/bin/python bench/webhooks_delivery.py [--messages 10000] [--concurrency 50] [--database-url URL]

Arrangement: a receiver (uvicorn, in its own process) on loopback; the hub's services
(database, signal outbox, webhooks plugin, delivery worker) in this process.

1. Throughput: N signals committed in a burst (transactions of 100, as a busy events API
   would) and delivered signed, stored and logged, against plain httpx POSTing the same
   bodies to the same receiver with the same concurrency. Held to >= 70% of it.
2. Latency: N signals raised at a steady rate (half the hub's burst throughput), p99 from
   the signal's commit to its delivery. Held to < 1 s.
3. The receiver failing 10% of attempts at random: every message delivered, and none
   answered 2xx more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import drop_database, free_port, fresh_database, line, up  # noqa: E402

BODY = {"id": "evt-0000000000000000000000", "title": "Formation sécurité", "start": "2024-03-15T10:00:00Z",
        "end": "2024-03-15T12:00:00Z", "timezone": "Europe/Paris", "type": "training", "attendees": []}


# -- the receiver (its own process) -----------------------------------------------------------

def receiver_app(fail_rate: float):
    ok: dict[str, int] = {}
    counts = {"requests": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/_stats":
            body = msgspec.json.encode({"requests": counts["requests"], "ok": sum(ok.values()),
                                        "distinct": len(ok), "okTwice": sum(1 for v in ok.values() if v > 1)})
            status = 200
        elif scope["path"] == "/_reset":
            ok.clear()
            counts["requests"] = 0
            body, status = b"{}", 200
        else:
            counts["requests"] += 1
            status = 500 if random.random() < fail_rate else 200
            if status == 200:
                msg_id = dict(scope["headers"]).get(b"webhook-id", b"").decode()
                ok[msg_id] = ok.get(msg_id, 0) + 1
            body = b"ok"
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


def serve_receiver(port: int, fail_rate: float) -> None:
    import uvicorn

    uvicorn.run(receiver_app(fail_rate), host="127.0.0.1", port=port, log_level="warning", access_log=False)


class ReceiverProcess:
    def __init__(self, fail_rate: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(self.port), str(fail_rate)])
        up(f"{self.url}/_stats")

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_stats").json()

    def reset(self) -> None:
        httpx.post(f"{self.url}/_reset")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# -- the measurements ---------------------------------------------------------------------------

async def plain_httpx(url: str, n: int, concurrency: int) -> float:
    """Deliveries per second of plain httpx: the same body, the same concurrency."""
    body = msgspec.json.encode({"type": "eventCreated", "timestamp": "2024-03-15T10:00:00Z", "data": BODY})
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one(i: int) -> None:
            async with sem:
                r = await client.post(url, content=body, headers={"content-type": "application/json", "webhook-id": f"b{i}"})
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


class Hub:
    def __init__(self, database_url: str, data_dir: Path, concurrency: int) -> None:
        from axhub.config import Config
        from axhub.api.wiring import build_services

        env = {**os.environ, "AXHUB_DATA_DIR": str(data_dir), "AXHUB_DATABASE_URL": database_url,
               "AXHUB_PLUGINS": "webhooks", "AXHUB_OUTBOUND_ALLOW": "127.0.0.1",
               "AXHUB_DELIVERY_CONCURRENCY": str(concurrency), "AXHUB_DELIVERY_RETRY_BASE": "0.05",
               "AXHUB_DELIVERY_POLL": "0.05"}
        self.svc = build_services(Config.from_env(env))

    async def start(self, url: str) -> str:
        from axhub.auth import Identity
        from axhub.integrations import connect
        from axhub.integrations.schemas import ConnectIn

        await self.svc.db.upgrade()
        self.svc.worker.start()
        who = Identity(user_id="bench", org_id="bench", role="admin", name="Bench", email="bench@example.com")
        out = await connect.connect(self.svc, who, "webhooks", ConnectIn(settings={"webhooks": {"eventCreated": {
            "url": url, "retryPolicy": {"maxRetries": 20, "backoffMultiplier": 1.5}}}}))
        self.integration = out.integration_id
        return out.integration_id

    async def emit(self, count: int) -> None:
        async with self.svc.db.session() as s, s.begin():
            for _ in range(count):
                self.svc.signals.emit(s, "eventCreated", "bench", BODY)

    async def delivered(self) -> int:
        from sqlalchemy import func, select

        from axhub.db import DeliveryMessage

        async with self.svc.db.session() as s:
            return await s.scalar(select(func.count()).where(DeliveryMessage.integration_id == self.integration,
                                                             DeliveryMessage.status == "delivered")) or 0

    async def wait_delivered(self, n: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while await self.delivered() < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {await self.delivered()} of {n} delivered")
            await asyncio.sleep(0.05)

    async def latencies(self) -> list[float]:
        """Seconds from each signal's commit (its timestamp in the body) to its delivery."""
        from datetime import datetime

        from sqlalchemy import select

        from axhub.db import DeliveryMessage

        async with self.svc.db.session() as s:
            rows = (await s.execute(select(DeliveryMessage.payload, DeliveryMessage.delivered_at)
                                    .where(DeliveryMessage.integration_id == self.integration))).all()
        out = []
        for payload, delivered in rows:
            at = datetime.fromisoformat(msgspec.json.decode(payload)["timestamp"].replace("Z", "+00:00"))
            out.append((delivered - at).total_seconds())
        return out

    async def reset(self) -> None:
        from sqlalchemy import delete

        from axhub.db import DeliveryMessage, SignalOutbox

        await self.svc.tasks.drain()
        async with self.svc.db.session() as s, s.begin():
            await s.execute(delete(DeliveryMessage))
            await s.execute(delete(SignalOutbox))

    async def close(self) -> None:
        await self.svc.aclose()


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


async def bench(args, database_url: str, tmp: Path) -> int:
    n, c = args.messages, args.concurrency
    print(f"{n} messages, concurrency {c}, database {'PostgreSQL' if args.database_url else 'SQLite'}", flush=True)
    healthy, failing = ReceiverProcess(0.0), ReceiverProcess(0.1)
    hub = None
    failures = 0
    try:
        hub = Hub(database_url, tmp, c)
        base = await plain_httpx(healthy.url + "/base", n, c)
        healthy.reset()
        await hub.start(healthy.url + "/hook")

        started = time.perf_counter()
        for i in range(0, n, 100):
            await hub.emit(min(100, n - i))
        await hub.wait_delivered(n)
        rate = n / (time.perf_counter() - started)
        ok = rate >= 0.7 * base
        failures += not ok
        line("1. burst: deliveries per second (plain httpx x 0.7)", f"{rate:,.0f}/s", f">= {0.7 * base:,.0f}/s ({base:,.0f})", ok)
        stats = healthy.stats()
        line("   receiver: requests, answered 2xx twice", f"{stats['requests']}, {stats['okTwice']}", f"{n}, 0",
             stats["requests"] == n and stats["okTwice"] == 0)

        await hub.reset()
        pace = rate / 2
        started = time.perf_counter()
        for i in range(0, n, 10):
            await hub.emit(min(10, n - i))
            ahead = started + (i + 10) / pace - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await hub.wait_delivered(n)
        worst = p99(await hub.latencies())
        ok = worst < 1.0
        failures += not ok
        line(f"2. p99 signal -> delivered at {pace:,.0f}/s", f"{worst * 1000:,.0f} ms", "< 1000 ms", ok)
        await hub.close()

        hub = Hub(database_url, tmp, c)
        await hub.start(failing.url + "/hook")
        started = time.perf_counter()
        for i in range(0, n, 100):
            await hub.emit(min(100, n - i))
        await hub.wait_delivered(n)
        elapsed = time.perf_counter() - started
        stats = failing.stats()
        ok = stats["distinct"] == n and stats["okTwice"] == 0
        failures += not ok
        line("3. 10% failing: delivered, answered 2xx twice", f"{stats['distinct']}, {stats['okTwice']}", f"{n}, 0", ok)
        print(f"   {stats['requests']} attempts ({stats['requests'] - stats['ok']} failed) in {elapsed:.1f} s", flush=True)
    finally:
        if hub is not None:
            await hub.close()
        healthy.stop()
        failing.stop()
    return 1 if failures else 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--receiver":
        serve_receiver(int(sys.argv[2]), float(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-"))
    database_url = fresh_database(args.database_url, "axhub_bench_webhooks") if args.database_url else \
        f"sqlite+aiosqlite:///{tmp / 'axhub.db'}"
    try:
        return asyncio.run(bench(args, database_url, tmp))
    finally:
        drop_database(database_url)


if __name__ == "__main__":
    sys.exit(main())
