"""Processes sharing one PostgreSQL database share the scheduled syncs: two `axhub
serve` run each due time of each integration once, by one of them, and none is
skipped; an `axhub worker` runs them for an API process that runs no jobs."""

import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from axhub.scheduler.grid import on_grid
from axhub.testing import connect, free_port

INTERVAL = 2
INTEGRATIONS = 8
LINE = re.compile(r"scheduled sync (sync-\S+) of (int-\S+) \(due (\S+)\) ran on (\S+)")


def up(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


class Cluster:
    """A sandbox process and hub processes (``serve`` or ``worker``) on one fresh
    PostgreSQL database, their output kept in log files."""

    def __init__(self, url: str, tmp_path, first_port: int) -> None:
        self.tmp_path = tmp_path
        self.sandbox_port = free_port()
        self.env = {**os.environ, "AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
                    "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{self.sandbox_port}", "AXHUB_PLUGINS": "google",
                    "AXHUB_SYNC_INTERVAL_MIN": "1", "AXHUB_AUTO_MIGRATE": "0",
                    "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{first_port}"}
        self.cli = [sys.executable, "-m", "axhub.cli"]
        self.procs: list[subprocess.Popen] = []
        self.logs: dict[str, object] = {}
        subprocess.run([*self.cli, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        self.procs.append(subprocess.Popen([*self.cli, "sandbox", "--port", str(self.sandbox_port)], env=self.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        up(f"http://127.0.0.1:{self.sandbox_port}/google/_control/stats")

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        log = self.logs[name] = open(self.tmp_path / f"{name}.log", "w+")
        proc = subprocess.Popen([*self.cli, *args], env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def serve(self, port: int, **env: str) -> httpx.Client:
        self.start(f"hub-{port}", "serve", "--sandbox", "--port", str(port), **env)
        up(f"http://127.0.0.1:{port}/schema/openapi.json")
        token = subprocess.run([*self.cli, "token", "create", "--org", "o", "--role", "admin"], env=self.env,
                               check=True, capture_output=True, text=True).stdout.strip()
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def log(self, name: str) -> str:
        self.logs[name].seek(0)
        return self.logs[name].read()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        for log in self.logs.values():
            log.close()


def automatic(api: httpx.Client, integration: str) -> list[dict]:
    """The integration's finished scheduled runs."""
    history = api.get(f"/api/integrations/{integration}/history", params={"limit": 500}).json()["data"]
    return [r for r in history if r["type"] == "automatic" and r["status"] not in ("started", "running")]


@pytest.mark.slow
def test_two_hub_processes_run_each_scheduled_sync_once(new_database, tmp_path):
    url = new_database()
    if url.startswith("sqlite"):
        pytest.skip("several processes share a PostgreSQL database (AXHUB_TEST_DATABASE_URL)")
    ports = [free_port(), free_port()]
    cluster = Cluster(url, tmp_path, ports[0])
    try:
        apis = [cluster.serve(port) for port in ports]
        ids = [connect(apis[i % 2], "google", settings={"autoSync": True, "syncInterval": INTERVAL})["integrationId"]
               for i in range(INTEGRATIONS)]
        deadline = time.monotonic() + 90
        while min(len(automatic(apis[0], i)) for i in ids) < 3:  # three intervals each, at least
            assert time.monotonic() < deadline, "scheduled syncs did not run"
            time.sleep(0.5)
        for integration in ids:  # no more fires: the counts below are final
            assert apis[1].put(f"/api/integrations/{integration}/settings", json={"autoSync": False}).status_code == 200
        deadline = time.monotonic() + 60
        while any(r["status"] in ("started", "running") for i in ids
                  for r in apis[0].get(f"/api/integrations/{i}/history").json()["data"]):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        runs = {i: automatic(apis[0], i) for i in ids}
        for proc in cluster.procs[1:]:
            proc.terminate()
            proc.wait(timeout=30)
        lines = [m.groups() for name in cluster.logs for m in LINE.finditer(cluster.log(name))]
        fired = Counter((integration, due) for _, integration, due, _ in lines)
        assert fired and max(fired.values()) == 1, [k for k, n in fired.items() if n > 1]  # each due time once
        for integration in ids:  # and none skipped: from its first to its last, every point of its grid
            dues = sorted(datetime.fromisoformat(due) for _, i, due, _ in lines if i == integration)
            assert len(dues) >= 3, (integration, dues)
            assert all(on_grid(integration, INTERVAL, due) for due in dues), (integration, dues)
            skipped = [(a.isoformat(), b.isoformat()) for a, b in zip(dues, dues[1:]) if b - a != timedelta(seconds=INTERVAL)]
            assert not skipped, (integration, skipped)
        for integration in ids:
            assert {r["id"] for r in runs[integration]} == {run for run, i, _, _ in lines if i == integration}
            assert all(r["triggeredBy"] == "scheduled_sync" for r in runs[integration])
        print("split between the processes:", Counter(node for *_, node in lines))
    finally:
        cluster.close()


@pytest.mark.slow
def test_axhub_worker_runs_the_jobs_of_a_hub_that_runs_none(new_database, tmp_path):
    """An API process with ``AXHUB_SCHEDULER=0`` and an ``axhub worker`` beside it: the
    worker runs every scheduled sync, the API process none, and the worker stops
    cleanly on SIGTERM."""
    url = new_database()
    if url.startswith("sqlite"):
        pytest.skip("several processes share a PostgreSQL database (AXHUB_TEST_DATABASE_URL)")
    port = free_port()
    cluster = Cluster(url, tmp_path, port)
    try:
        api = cluster.serve(port, AXHUB_SCHEDULER="0")
        worker = cluster.start("worker", "worker")
        ids = [connect(api, "google", settings={"autoSync": True, "syncInterval": INTERVAL})["integrationId"]
               for _ in range(2)]
        deadline = time.monotonic() + 60
        while min(len(automatic(api, i)) for i in ids) < 2:
            assert worker.poll() is None, cluster.log("worker")
            assert time.monotonic() < deadline, "the worker ran no scheduled sync"
            time.sleep(0.5)
        worker.terminate()
        assert worker.wait(timeout=30) == 0, cluster.log("worker")
        ran = {(run, integration) for run, integration, _, _ in LINE.findall(cluster.log("worker"))}
        assert not LINE.search(cluster.log(f"hub-{port}"))
        for integration in ids:
            assert {(r["id"], integration) for r in automatic(api, integration)} <= ran
    finally:
        cluster.close()
