"""A hub process killed (SIGKILL) in the middle of a burst of deliveries loses nothing:
restarted on the same database, it delivers every message, and sends again at most the
few that were in flight when it died (at least once, as the receiver's dedupe expects)."""

import json
import signal
import time

import pytest
from whtools import connect, endpoint

from axhub.testing import free_port
from axhub.testing.processes import Processes
from axhub.testing.receiver import Answer, Receiver

EVENTS = 40
CONCURRENCY = 4


@pytest.mark.slow
def test_kill_minus_nine_during_a_burst_then_restart(new_database, tmp_path):
    port = free_port()
    procs = Processes({
        "AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_PLUGINS": "webhooks",
        "AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AXHUB_DELIVERY_CONCURRENCY": str(CONCURRENCY), "AXHUB_DELIVERY_LEASE_SECONDS": "2",
        "AXHUB_PROVIDER_TIMEOUT": "1", "AXHUB_DELIVERY_RETRY_BASE": "0.1"})
    # A slow receiver: the burst takes a few seconds, so the kill lands in the middle of it.
    with Receiver(default=Answer(delay=0.15)) as receiver:
        try:
            hub = procs.serve(port)
            api = procs.api(port, procs.token())
            integration = connect(api, {"eventCreated": endpoint(receiver.url + "/hook")})["integrationId"]
            created = set()
            for i in range(EVENTS):
                response = api.post("/api/events", json={"title": f"E{i}", "start": "2026-10-01T08:00:00Z",
                                                         "end": "2026-10-01T09:00:00Z"})
                created.add(response.json()["data"]["id"])
            receiver.wait_for(8)
            hub.send_signal(signal.SIGKILL)
            hub.wait()
            before = len(receiver.requests)
            assert before < EVENTS  # the kill landed in the middle of the burst

            procs.serve(port)
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
            procs.close()
