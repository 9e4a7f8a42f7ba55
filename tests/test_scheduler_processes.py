"""Two `axhub serve` processes on one PostgreSQL database share the scheduled syncs:
each due time of each integration is run once, by one of them, and none is skipped."""

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


@pytest.mark.slow
def test_two_hub_processes_run_each_scheduled_sync_once(new_database, tmp_path):
    url = new_database()
    if url.startswith("sqlite"):
        pytest.skip("several processes share a PostgreSQL database (AXHUB_TEST_DATABASE_URL)")
    sandbox_port, ports = free_port(), [free_port(), free_port()]
    env = {**os.environ, "AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
           "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": "google",
           "AXHUB_SYNC_INTERVAL_MIN": "1", "AXHUB_AUTO_MIGRATE": "0", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}"}
    cli = [sys.executable, "-m", "axhub.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    procs, logs = [], []
    try:
        procs.append(subprocess.Popen([*cli, "sandbox", "--port", str(sandbox_port)], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        up(f"http://127.0.0.1:{sandbox_port}/google/_control/stats")
        for port in ports:
            log = open(tmp_path / f"hub-{port}.log", "w+")
            logs.append(log)
            procs.append(subprocess.Popen([*cli, "serve", "--sandbox", "--port", str(port)], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        for port in ports:
            up(f"http://127.0.0.1:{port}/schema/openapi.json")
        token = subprocess.run([*cli, "token", "create", "--org", "o", "--role", "admin"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        apis = [httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) for port in ports]
        ids = [connect(apis[i % 2], "google", settings={"autoSync": True, "syncInterval": INTERVAL})["integrationId"]
               for i in range(INTEGRATIONS)]

        def automatic(integration):
            history = apis[0].get(f"/api/integrations/{integration}/history", params={"limit": 500}).json()["data"]
            return [r for r in history if r["type"] == "automatic" and r["status"] not in ("started", "running")]

        deadline = time.monotonic() + 90
        while min(len(automatic(i)) for i in ids) < 3:  # three intervals each, at least
            assert time.monotonic() < deadline, "scheduled syncs did not run"
            time.sleep(0.5)
        for integration in ids:  # no more fires: the counts below are final
            assert apis[1].put(f"/api/integrations/{integration}/settings", json={"autoSync": False}).status_code == 200
        deadline = time.monotonic() + 60
        while any(r["status"] in ("started", "running") for i in ids
                  for r in apis[0].get(f"/api/integrations/{i}/history").json()["data"]):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        runs = {i: automatic(i) for i in ids}
        for proc in procs[1:]:
            proc.terminate()
            proc.wait(timeout=30)
        lines = []
        for log in logs:
            log.seek(0)
            lines += [m.groups() for m in LINE.finditer(log.read())]
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
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        for log in logs:
            log.close()
