"""A demo survives a restart: the sandboxes keep their grants, tokens and data in the
hub's data folder, so integrations connected before a restart are healthy after it, and
the events a sync left at a provider are still there. A reset wipes that state, and the
integration's error then says in words that the sandbox forgot the grant."""

import os

import httpx

from axhub.testing import connect, connect_synced, free_port, wait_for_sync
from axhub.testing.processes import Processes

PROVIDERS = ("google", "microsoft", "slack", "zoom")


def _hub(env: dict[str, str], port: int) -> tuple[Processes, httpx.Client]:
    procs = Processes(env)
    procs.serve(port, "--sandbox")
    return procs, procs.api(port, procs.token("org-restart", "manager"))


def test_integrations_stay_healthy_across_a_restart_and_a_reset_says_why_they_are_not(tmp_path, new_database):
    env = {k: v for k, v in os.environ.items() if k not in ("AXHUB_SANDBOX", "AXHUB_PUBLIC_URL")}
    env.update(AXHUB_DATA_DIR=str(tmp_path / "data"), AXHUB_DATABASE_URL=new_database(), AXHUB_SCHEDULER="0")
    port = free_port()
    sandbox = f"http://127.0.0.1:{port}/sandbox"

    procs, api = _hub(env, port)
    try:
        ids = {p: connect_synced(api, p) if p in ("google", "microsoft") else connect(api, p)["integrationId"]
               for p in PROVIDERS}
        event = api.post("/api/events", json={"title": "Kept", "start": "2030-03-01T09:00:00Z",
                                              "end": "2030-03-01T10:00:00Z"})
        assert event.status_code == 201, event.text
        run = api.post(f"/api/integrations/{ids['google']}/sync", json={}).json()["data"]
        assert wait_for_sync(api, ids["google"], run["syncId"])["status"] == "completed"
        at_google = httpx.get(f"{sandbox}/google/_control/calendar/events").json()["items"]
        assert [e["summary"] for e in at_google] == ["Kept"]
    finally:
        procs.close()  # SIGTERM: the hub saves the sandboxes' state as it stops

    assert sorted(p.stem for p in (tmp_path / "data" / "sandboxes").glob("*.pickle")) == sorted(PROVIDERS)
    procs, api = _hub(env, port)
    try:
        for provider, integration in ids.items():
            test = api.post(f"/api/integrations/{integration}/test", json={}).json()["data"]
            assert test["connectionStatus"] == "healthy", (provider, test)
        assert httpx.get(f"{sandbox}/google/_control/calendar/events").json()["items"] == at_google
        # The sync cursor the hub kept still reads: nothing to import, nothing pushed twice.
        run = api.post(f"/api/integrations/{ids['google']}/sync", json={}).json()["data"]
        done = wait_for_sync(api, ids["google"], run["syncId"])
        assert done["status"] == "completed", done
        assert httpx.get(f"{sandbox}/google/_control/calendar/events").json()["items"] == at_google

        assert httpx.post(f"{sandbox}/google/_control/reset").status_code == 200
        test = api.post(f"/api/integrations/{ids['google']}/test", json={}).json()["data"]
        assert test["connectionStatus"] == "unhealthy", test
        assert any("the sandbox no longer knows it" in r for r in test["recommendations"]), test
        row = api.get(f"/api/integrations/{ids['google']}").json()["data"]
        assert row["status"] == "error" and "the sandbox no longer knows it" in row["lastError"]["message"], row
    finally:
        procs.close()

    # The reset is kept too: a restart does not bring the forgotten grants back.
    procs, api = _hub(env, port)
    try:
        test = api.post(f"/api/integrations/{ids['google']}/test", json={}).json()["data"]
        assert test["connectionStatus"] == "unhealthy", test
        assert api.post(f"/api/integrations/{ids['zoom']}/test", json={}).json()["data"]["connectionStatus"] == "healthy"
    finally:
        procs.close()
