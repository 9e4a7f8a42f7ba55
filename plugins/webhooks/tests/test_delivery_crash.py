"""A hub process killed (SIGKILL) in the middle of a burst of deliveries loses nothing:
restarted on the same database, it delivers every message, and sends again at most the
few that were in flight when it died (at least once, as the receiver's dedupe expects)."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from axhub.testing import free_port
from axhub.testing import wait_until_up as up
from axhub.testing.receiver import Answer, Receiver

EVENTS = 40
CONCURRENCY = 4


@pytest.mark.slow
def test_kill_minus_nine_during_a_burst_then_restart(new_database, tmp_path):
    port = free_port()
    env = {**os.environ, "AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path),
           "AXHUB_PLUGINS": "webhooks", "AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "AXHUB_DELIVERY_CONCURRENCY": str(CONCURRENCY), "AXHUB_DELIVERY_LEASE_SECONDS": "2",
           "AXHUB_PROVIDER_TIMEOUT": "1", "AXHUB_DELIVERY_RETRY_BASE": "0.1"}
    serve = [sys.executable, "-m", "axhub.cli", "serve", "--port", str(port)]
    procs = []
    # A slow receiver: the burst takes a few seconds, so the kill lands in the middle of it.
    with Receiver(default=Answer(delay=0.15)) as receiver:
        try:
            procs.append(subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            up(f"http://127.0.0.1:{port}/schema/openapi.json")
            token = subprocess.run([sys.executable, "-m", "axhub.cli", "token", "create", "--org", "o", "--role", "admin"],
                                   env=env, check=True, capture_output=True, text=True).stdout.strip()
            api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            connected = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
                "eventCreated": {"url": receiver.url + "/hook"}}}})
            assert connected.status_code == 200, connected.text
            integration = connected.json()["data"]["integrationId"]
            created = set()
            for i in range(EVENTS):
                response = api.post("/api/events", json={"title": f"E{i}", "start": "2026-10-01T08:00:00Z",
                                                         "end": "2026-10-01T09:00:00Z"})
                created.add(response.json()["data"]["id"])
            receiver.wait_for(8)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait()
            before = len(receiver.requests)
            assert before < EVENTS  # the kill landed in the middle of the burst

            procs.append(subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            up(f"http://127.0.0.1:{port}/schema/openapi.json")
            deadline = time.monotonic() + 60
            while True:
                meta = api.get(f"/api/integrations/{integration}/webhooks/messages",
                               params={"status": "delivered", "limit": 1}).json()["meta"]
                if meta["total"] == EVENTS:
                    break
                assert time.monotonic() < deadline, meta
                time.sleep(0.1)
            assert api.get(f"/api/integrations/{integration}/webhooks/messages", params={"limit": 1}).json()["meta"]["total"] == EVENTS
            delivered = {json.loads(r.body)["data"]["id"] for r in receiver.requests}
            assert delivered == created  # nothing lost
            ids = [r.headers["webhook-id"] for r in receiver.requests]
            assert len(set(ids)) == EVENTS
            assert len(ids) - EVENTS <= CONCURRENCY  # only what was in flight at the kill went twice
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=15)
