"""A hub process killed with SIGKILL in the middle of a sync loses nothing and duplicates
nothing: a drill any calendar plugin's tests can run against its sandbox.

The sandbox runs in its own process (``axhub sandbox``) so that it outlives the hub;
the hub (``axhub serve``) is killed while its initial sync pushes local events in
batches and started again. The new process closes the interrupted run at its start (it
reads failed, interrupted, at once, though its lease has long to run, its statistics
counting exactly what it saved), and a new run does the rest to the end.
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from . import connect, free_port, wait_until_up
from .processes import Processes, run_to_end, sync_status


@dataclasses.dataclass
class Drill:
    """What the drill needs to know of a provider's sandbox."""

    provider: str
    seed: Callable[[httpx.Client, int], None]  # put N events in the calendar (control routes)
    slow_batches: dict[str, Any]  # a /_control/faults rule delaying the batch endpoint
    batches: Callable[[dict[str, int]], int]  # batch round trips so far, from the sandbox's counters
    titles: Callable[[httpx.Client], list[str]]  # titles of the calendar's live events


def kill_mid_push(drill: Drill, database_url: str, data_dir: Path, *, remote: int = 3000, local: int = 600) -> None:
    sandbox_port, hub_port = free_port(), free_port()
    procs = Processes({
        "AXHUB_DATABASE_URL": database_url, "AXHUB_DATA_DIR": str(data_dir), "AXHUB_SANDBOX": "1",
        "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": drill.provider,
        # A lease that outlasts the drill: only the new process's start can free the lock.
        "AXHUB_SYNC_LOCK_SECONDS": "600", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    })
    try:
        procs.start("sandbox", "--port", str(sandbox_port))
        wait_until_up(f"http://127.0.0.1:{sandbox_port}/{drill.provider}/_control/stats")
        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        wait_until_up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        token = procs.token()
        api = httpx.Client(base_url=f"http://127.0.0.1:{hub_port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        control = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}/{drill.provider}", timeout=30)
        drill.seed(control, remote)
        for i in range(local):  # several rounds of concurrent batch round trips
            api.post("/api/events", json={"title": f"Local {i:03d}", "start": "2026-10-01T08:00:00Z",
                                          "end": "2026-10-01T09:00:00Z"}).raise_for_status()
        # Slow the batch endpoint so that the kill lands between rounds of batches.
        control.post("/_control/faults", json=drill.slow_batches)
        # No scheduled run: the grid may place one seconds after the connection, and
        # one started by the restarted hub would add links the killed run never saved.
        data = connect(api, drill.provider, settings={"autoSync": False})
        integration, sync_id = data["integrationId"], data["initialSync"]["syncId"]
        deadline = time.monotonic() + 60
        while drill.batches(control.get("/_control/stats").json()["counters"]) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        control.delete("/_control/faults")

        hub = procs.start("serve", "--sandbox", "--port", str(hub_port))
        wait_until_up(f"http://127.0.0.1:{hub_port}/schema/openapi.json")
        interrupted = sync_status(api, integration, sync_id)
        assert (interrupted["status"], interrupted.get("message")) == ("failed", "interrupted: the process running it stopped")
        pushed = len(drill.titles(control))
        assert remote <= pushed < remote + local, pushed  # the kill landed in the middle of the pushes
        # The run's statistics count what was saved, as it was saved: every link the
        # killed run left is in its figures, and nothing more.
        linked = api.get(f"/api/integrations/{integration}").json()["data"]["statistics"]["eventsSynced"]
        counted = interrupted["statistics"]
        assert (counted["inbound"]["created"], counted["outbound"]["created"]) == (remote, linked - remote), (linked, pushed, counted)
        final = run_to_end(api, integration)
        assert final["status"] == "completed", (final.get("message"), final.get("errors"))
        assert api.get("/api/events", params={"limit": 1}).json()["meta"]["total"] == remote + local
        titles = drill.titles(control)
        assert len(titles) == remote + local
        assert len(set(titles)) == remote + local  # every title once: nothing duplicated
        again = run_to_end(api, integration)["statistics"]
        assert (again["eventsCreated"], again["eventsUpdated"], again["eventsDeleted"]) == (0, 0, 0)
    finally:
        procs.close()
