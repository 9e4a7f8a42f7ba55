"""The integrations list at framework speed (issue 20), printed beside its peer.

    .venv/bin/python bench/api.py [--seconds 10] [--repeat 3] [--database-url URL]

An organisation with 4 integrations (Google, Microsoft, Slack, Zoom, each connected
through its sandbox by the real OAuth flow, their initial syncs run) asks
``GET /api/integrations`` with its Bearer token under ``wrk`` at 50 and 100 connections.
The peer, measured in the same run and on the same machine, is a bare Litestar app
under the same server (uvicorn, one process) answering the same body, held in memory
and encoded by msgspec on every request. The hub is held to 30 % of the peer's
requests per second and to a p99 of 50 ms at 50 connections; each figure is the median
of ``--repeat`` rounds, the hub and the peer taking turns so that both see the same
noise.

The load generator is ``wrk`` (``apt-get install -y wrk``) with one thread: on a small
machine it shares the cores with the server it loads, as much for the hub as for the
peer.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import drop_database, free_port, fresh_database, line, up  # noqa: E402

PROVIDERS = ("google", "microsoft", "slack", "zoom")
CLI = [sys.executable, "-m", "axhub.cli"]
RATIO, P99_MS = 0.30, 50.0


def bare_app(body_file: str, port: int) -> None:
    """The peer: Litestar and msgspec, the hub's answer held in memory."""
    import msgspec
    import uvicorn
    from litestar import Litestar, get

    body = msgspec.json.decode(Path(body_file).read_bytes())

    @get("/api/integrations", sync_to_thread=False)
    def integrations() -> dict:
        return body

    app = Litestar(route_handlers=[integrations], openapi_config=None, logging_config=None)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wrk(url: str, connections: int, seconds: int, token: str) -> tuple[float, float, float]:
    """Requests per second, p50 and p99 in milliseconds."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                          "-H", f"Authorization: Bearer {token}", url], check=True, capture_output=True, text=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url} answered {errors.group(1)} requests with an error:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, _ms(re.search(r"\s50%\s+(\S+)", out).group(1)), _ms(re.search(r"\s99%\s+(\S+)", out).group(1))


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


class Hub:
    """The sandboxes, the hub and the peer, each its own process, on loopback."""

    def __init__(self, database_url: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="axhub-bench-api-"))
        self.database_url = fresh_database(database_url, "axhub_bench_api") if database_url else \
            f"sqlite+aiosqlite:///{self.tmp / 'axhub.db'}"
        self.sandbox_port, self.hub_port, self.bare_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, "AXHUB_DATABASE_URL": self.database_url, "AXHUB_DATA_DIR": str(self.tmp),
                    "AXHUB_SANDBOX": "1", "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}",
                    "AXHUB_PLUGINS": ",".join(PROVIDERS), "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{self.hub_port}",
                    "AXHUB_LOG_LEVEL": "WARNING"}
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        self.procs.append(subprocess.Popen([*CLI, "sandbox", "--port", str(self.sandbox_port)], env=self.env))
        up(f"http://127.0.0.1:{self.sandbox_port}/google/_control/stats")
        # The access log stays on, as an operator runs the hub; its lines go nowhere here.
        self.procs.append(subprocess.Popen([*CLI, "serve", "--sandbox", "--port", str(self.hub_port)], env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        up(f"http://127.0.0.1:{self.hub_port}/schema/openapi.json")
        self.token = subprocess.run([*CLI, "token", "create", "--org", "bench", "--role", "admin"], env=self.env,
                                    check=True, capture_output=True, text=True).stdout.strip()
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.hub_port}",
                                headers={"Authorization": f"Bearer {self.token}"}, timeout=120)

    def connect_all(self) -> bytes:
        """The 4 integrations, their first syncs finished: the list's answer."""
        from axhub.testing import connect

        for provider in PROVIDERS:
            done = connect(self.api, provider)
            started = done.get("initialSync")
            if started and started.get("syncId"):
                self._wait(done["integrationId"], started["syncId"])
        response = self.api.get("/api/integrations")
        response.raise_for_status()
        assert len(response.json()["data"]) == len(PROVIDERS), response.text
        return response.content

    def _wait(self, integration: str, sync_id: str) -> None:
        while self.api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]["status"] \
                not in ("completed", "partial", "failed"):
            time.sleep(0.05)

    def start_bare(self, body: bytes) -> None:
        path = self.tmp / "body.json"
        path.write_bytes(body)
        self.procs.append(subprocess.Popen([sys.executable, __file__, "--bare", str(path), "--port", str(self.bare_port)]))
        up(f"http://127.0.0.1:{self.bare_port}/api/integrations")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait(timeout=60)
        drop_database(self.database_url)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("AXHUB_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=int, default=10, help="each wrk round (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per figure; the median is printed (default 3)")
    parser.add_argument("--connections", default="50,100")
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_app(args.bare, args.port)
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api.py needs wrk (apt-get install -y wrk)")
    hub = Hub(args.database_url)
    kind = hub.database_url.split(":")[0].split("+")[0]
    try:
        hub.start()
        body = hub.connect_all()
        hub.start_bare(body)
        print(f"axhub API benchmark: GET /api/integrations, {len(PROVIDERS)} integrations ({len(body)} bytes), "
              f"database {kind}, wrk {args.seconds} s x {args.repeat}", flush=True)
        hub_url = f"http://127.0.0.1:{hub.hub_port}/api/integrations"
        bare_url = f"http://127.0.0.1:{hub.bare_port}/api/integrations"
        for url in (hub_url, bare_url):  # warm both: connections, prepared statements, caches
            wrk(url, 10, 2, hub.token)
        for connections in (int(c) for c in args.connections.split(",")):
            rounds: dict[str, list[tuple[float, float, float]]] = {"hub": [], "bare": []}
            for _ in range(args.repeat):
                rounds["hub"].append(wrk(hub_url, connections, args.seconds, hub.token))
                rounds["bare"].append(wrk(bare_url, connections, args.seconds, hub.token))
            (h_rps, h50, h99), (b_rps, b50, b99) = (tuple(statistics.median(r[i] for r in rounds[k]) for i in range(3))
                                                    for k in ("hub", "bare"))
            spread = max(r[0] for r in rounds["hub"]) / max(1e-9, min(r[0] for r in rounds["hub"])) - 1
            print(f"  {connections} connections: bare Litestar {b_rps:,.0f} rps (p50 {b50:.1f} ms, p99 {b99:.1f} ms); "
                  f"hub rounds {', '.join(f'{r[0]:,.0f}' for r in rounds['hub'])} rps (spread {spread:.0%})", flush=True)
            line(f"hub rps at {connections} connections, share of the bare app's", f"{h_rps:,.0f} = {h_rps / b_rps:.0%}",
                 f">= {RATIO:.0%} ({RATIO * b_rps:,.0f})", h_rps >= RATIO * b_rps)
            held = connections == 50
            line(f"hub p50 / p99 at {connections} connections", f"{h50:.1f} / {h99:.1f} ms",
                 f"p99 <= {P99_MS:.0f} ms" if held else "(none; bare p99 %.1f)" % b99, h99 <= P99_MS or not held)
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
