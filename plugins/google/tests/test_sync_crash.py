"""A hub process killed in the middle of a sync loses nothing and duplicates nothing."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from synctools import FINISHED

from axhub.testing import connect, free_port


class Procs:
    def __init__(self, env):
        self.env = {**os.environ, **env}
        self.procs = []

    def start(self, *args):
        proc = subprocess.Popen([sys.executable, "-m", "axhub.cli", *args], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


def up(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def status(api, integration, sync_id):
    return api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]


def run_to_end(api, integration, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        response = api.post(f"/api/integrations/{integration}/sync", json={})
        if response.status_code == 202:
            break
        assert response.status_code == 409, response.text  # the dead run's lease has to lapse first
        assert time.monotonic() < deadline
        time.sleep(0.3)
    sync_id = response.json()["data"]["syncId"]
    while (data := status(api, integration, sync_id))["status"] not in FINISHED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return data


@pytest.mark.slow
def test_kill_minus_nine_mid_sync_then_resume(new_database, tmp_path):
    sandbox_port, hub_port = free_port(), free_port()
    procs = Procs({
        "AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
        "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": "google",
        "AXHUB_SYNC_LOCK_SECONDS": "2", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    })
    try:
        procs.start("sandbox", "--port", str(sandbox_port))
        up(f"http://127.0.0.1:{sandbox_port}/google/_control/stats")
        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        token = subprocess.run([sys.executable, "-m", "axhub.cli", "token", "create", "--org", "o", "--role", "admin"],
                               env=procs.env, check=True, capture_output=True, text=True).stdout.strip()
        api = httpx.Client(base_url=f"http://127.0.0.1:{hub_port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        control = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}/google", timeout=30)
        control.post("/_control/calendar/seed", json={"count": 3000, "start": "2026-09-01T08:00:00Z", "prefix": "Remote"})
        for i in range(600):  # 12 batches of 50: several rounds of concurrent round trips
            api.post("/api/events", json={"title": f"Local {i:03d}", "start": "2026-10-01T08:00:00Z",
                                          "end": "2026-10-01T09:00:00Z"}).raise_for_status()
        # Slow Google's batch endpoint so that the kill lands between rounds of batches.
        control.post("/_control/faults", json={"path": "/batch", "status": 0, "delay": 0.4, "count": 100})
        data = connect(api, "google")
        integration, sync_id = data["integrationId"], data["initialSync"]["syncId"]
        deadline = time.monotonic() + 60
        while control.get("/_control/stats").json()["counters"].get("batch", 0) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        control.delete("/_control/faults")

        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        assert status(api, integration, sync_id)["status"] in ("started", "running")  # as the kill left it
        pushed = [e for e in control.get("/_control/calendar/events").json()["items"] if e.get("status") != "cancelled"]
        assert 3000 <= len(pushed) < 3600, len(pushed)  # the kill landed in the middle of the pushes
        final = run_to_end(api, integration)
        assert final["status"] == "completed", (final.get("message"), final.get("errors"))
        assert status(api, integration, sync_id)["status"] == "failed"  # marked interrupted when taken over
        local = api.get("/api/events", params={"limit": 1}).json()["meta"]["total"]
        remote = [e for e in control.get("/_control/calendar/events").json()["items"] if e.get("status") != "cancelled"]
        assert local == 3600
        assert len(remote) == 3600
        assert len({e["summary"] for e in remote}) == 3600  # every summary once: nothing duplicated
        again = run_to_end(api, integration)["statistics"]
        assert (again["eventsCreated"], again["eventsUpdated"], again["eventsDeleted"]) == (0, 0, 0)
    finally:
        procs.close()
