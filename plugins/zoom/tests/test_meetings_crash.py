"""A hub killed while it creates Zoom meetings: the next run gives every event exactly
one meeting (creates whose answer never arrived are found again, not repeated)."""

import signal
import time
from datetime import timedelta

import httpx
import pytest

from axhub.testing import connect, free_port
from axhub.testing import wait_until_up as wait_up
from axhub.testing.processes import Processes, run_to_end, sync_status

from zoomtools import iso, now

EVENTS = 40


@pytest.mark.slow
def test_kill_minus_nine_while_creating_meetings(new_database, tmp_path):
    sandbox_port, hub_port = free_port(), free_port()
    procs = Processes({
        "AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
        "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": "zoom",
        "AXHUB_SYNC_LOCK_SECONDS": "2", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    })
    try:
        procs.start("sandbox", "--port", str(sandbox_port))
        wait_up(f"http://127.0.0.1:{sandbox_port}/zoom/_control/stats")
        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        wait_up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        api = httpx.Client(base_url=f"http://127.0.0.1:{hub_port}", timeout=30,
                           headers={"Authorization": f"Bearer {procs.token()}"})
        control = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}/zoom", timeout=30)
        start = now() + timedelta(days=1)
        ids = []
        for i in range(EVENTS):
            response = api.post("/api/events", json={"title": f"Event {i:02d}", "start": iso(start + timedelta(hours=i)),
                                                     "end": iso(start + timedelta(hours=i, minutes=30))})
            ids.append(response.json()["data"]["id"])
        # Zoom makes each meeting, then takes a while to answer: the kill lands with
        # meetings made whose answers the hub never hears.
        control.post("/_control/meetings/lose-answers", json={"count": 0, "delay": 0.3})
        data = connect(api, "zoom", settings={"autoCreateMeetings": True})
        integration, sync_id = data["integrationId"], data["initialSync"]["syncId"]
        deadline = time.monotonic() + 60
        while len(control.get("/_control/meetings").json()["meetings"]) < 8:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        control.post("/_control/meetings/lose-answers", json={"count": 0, "delay": 0})
        made = len(control.get("/_control/meetings").json()["meetings"])
        assert 8 <= made < EVENTS, made  # the kill landed in the middle

        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        wait_up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        final = run_to_end(api, integration)
        assert final["status"] == "completed", (final.get("message"), final.get("errors"))
        assert sync_status(api, integration, sync_id)["status"] == "failed"  # marked interrupted
        meetings = control.get("/_control/meetings").json()["meetings"]
        assert sorted(m["topic"] for m in meetings) == [f"Event {i:02d}" for i in range(EVENTS)]  # each once
        linked = {api.get(f"/api/events/{event_id}").json()["data"]["meeting"]["id"] for event_id in ids}
        assert linked == {str(m["id"]) for m in meetings}
        again = run_to_end(api, integration)["statistics"]
        assert (again["eventsCreated"], again["eventsUpdated"], again["eventsDeleted"]) == (0, 0, 0)
    finally:
        procs.close()
