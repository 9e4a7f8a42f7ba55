"""A hub process killed in the middle of a sync loses nothing and duplicates nothing."""

import time

import pytest

from axhub.testing.crash import Drill, kill_mid_push

DRILL = Drill(
    provider="google",
    seed=lambda control, n: control.post("/_control/calendar/seed",
                                         json={"count": n, "start": "2026-09-01T08:00:00Z", "prefix": "Remote"}),
    slow_batches={"path": "/batch", "status": 0, "delay": 0.4, "count": 100},
    batches=lambda counters: counters.get("batch", 0),
    titles=lambda control: [e["summary"] for e in control.get("/_control/calendar/events").json()["items"]
                            if e.get("status") != "cancelled"],
)


@pytest.mark.slow
def test_kill_minus_nine_mid_sync_then_resume(new_database, tmp_path):
    kill_mid_push(DRILL, new_database(), tmp_path)


@pytest.mark.slow
def test_a_process_that_starts_leaves_a_run_of_a_live_process_alone(new_database, tmp_path):
    """The start-up close is for runs of processes that are gone: a second hub starting
    beside one whose sync is under way (the same machine, the same database) leaves
    that run to finish."""
    import httpx

    from axhub.testing import connect, free_port, wait_until_up
    from axhub.testing.processes import Processes, sync_status

    sandbox_port, first, second = free_port(), free_port(), free_port()
    procs = Processes({
        "AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
        "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": "google",
        "AXHUB_SYNC_LOCK_SECONDS": "600", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{first}",
    })
    try:
        procs.start("sandbox", "--port", str(sandbox_port))
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/google/_control/stats")
        procs.serve(first, "--sandbox")
        api = procs.api(first, procs.token())
        control = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}/google", timeout=30)
        for i in range(20):
            api.post("/api/events", json={"title": f"Local {i:03d}", "start": "2026-10-01T08:00:00Z",
                                          "end": "2026-10-01T09:00:00Z"}).raise_for_status()
        # Every batch round trip hangs a while: the run outlasts the second hub's start.
        control.post("/_control/faults", json={"path": "/batch", "status": 0, "delay": 6, "count": 100})
        data = connect(api, "google")
        integration, sync_id = data["integrationId"], data["initialSync"]["syncId"]
        procs.serve(second, "--sandbox")  # starts, and closes what it finds orphaned
        # Not closed: still going, or (on a slow machine, the start outlasting the delay)
        # finished by its own process; never failed as interrupted.
        assert sync_status(api, integration, sync_id)["status"] in ("started", "running", "completed")
        control.delete("/_control/faults")
        deadline = time.monotonic() + 120
        while (status := sync_status(api, integration, sync_id))["status"] not in ("completed", "partial", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert status["status"] == "completed", status.get("message")
    finally:
        procs.close()
