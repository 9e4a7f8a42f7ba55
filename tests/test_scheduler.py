"""The scheduler: automatic syncs on each integration's interval, kept in step with its
settings, reconciled from the database at start-up, and harmless when a fire comes twice."""

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from axhub.scheduler.grid import last_fire
from axhub.scheduler.jobs import run_job
from axhub.testing import connect

SCHEDULING = {"AXHUB_SCHEDULER": "1", "AXHUB_SYNC_INTERVAL_MIN": "1", "AXHUB_PLUGINS": "google"}


def automatic_runs(api, integration):
    history = api.get(f"/api/integrations/{integration}/history", params={"limit": 500}).json()["data"]
    return [r for r in history if r["type"] == "automatic"]


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)
    return value


def parse(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_auto_sync_runs_each_interval_as_automatic_scheduled_sync(make_hub):
    hub = make_hub(SCHEDULING)
    with hub.client("manager") as api:
        integration = connect(api, "google", settings={"autoSync": True, "syncInterval": 1})["integrationId"]
        runs = wait_for(lambda: len(r := automatic_runs(api, integration)) >= 2 and r)
        assert all(r["triggeredBy"] == "scheduled_sync" for r in runs)
        assert all(r["status"] in ("success", "running", "started") for r in runs)
        view = api.get(f"/api/integrations/{integration}").json()["data"]
        assert view["nextSync"] is not None


def test_settings_reschedule_at_once_and_autosync_off_stops(make_hub):
    hub = make_hub(SCHEDULING)
    with hub.client("manager") as api:
        integration = connect(api, "google", settings={"autoSync": True, "syncInterval": 3600})["integrationId"]
        hourly = parse(api.get(f"/api/integrations/{integration}").json()["data"]["nextSync"])
        # A due time on the integration's grid: a whole number of intervals from the last one.
        assert last_fire(integration, 3600, hourly) == hourly
        changed = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": 1})
        assert changed.status_code == 200
        wait_for(lambda: automatic_runs(api, integration))  # the new interval counts at once
        off = api.put(f"/api/integrations/{integration}/settings", json={"autoSync": False}).json()["data"]
        assert off["nextSync"] is None
        wait_for(lambda: all(r["status"] not in ("started", "running") for r in automatic_runs(api, integration)))
        before = len(automatic_runs(api, integration))
        time.sleep(2.5)  # two intervals of the old setting
        assert len(automatic_runs(api, integration)) == before


@pytest.mark.parametrize("body,field", [
    ({"syncInterval": 0}, "syncInterval"),
    ({"syncInterval": 59}, "syncInterval"),
    ({"syncInterval": 86401}, "syncInterval"),
    ({"settings": {"syncInterval": 10}}, "settings.syncInterval"),
])
def test_interval_outside_the_bounds_is_a_400_naming_the_field(hub, body, field):
    with hub.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
        before = api.get(f"/api/integrations/{integration}").json()["data"]
        response = api.put(f"/api/integrations/{integration}/settings", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["field"] == field
        after = api.get(f"/api/integrations/{integration}").json()["data"]
        assert (after["settings"], after["nextSync"]) == (before["settings"], before["nextSync"])  # nothing half-written


def test_connect_with_an_interval_under_the_minimum_is_refused(hub):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/google/connect", json={"settings": {"syncInterval": 30}})
        assert response.status_code == 400 and response.json()["error"]["field"] == "settings.syncInterval"


def test_schedules_come_back_after_a_restart_and_disconnect_removes_them(make_hub, new_database):
    url = new_database()
    first = make_hub({**SCHEDULING, "AXHUB_SCHEDULER": "0"}, database_url=url)
    with first.client("manager") as api:
        kept = connect(api, "google", settings={"autoSync": True, "syncInterval": 1})["integrationId"]
        gone = connect(api, "google", settings={"autoSync": True, "syncInterval": 1})["integrationId"]
        assert automatic_runs(api, kept) == []  # this process runs no jobs
        api.delete(f"/api/integrations/{gone}")
    first.stop()
    second = make_hub(SCHEDULING, database_url=url)
    with second.client("manager") as api:
        wait_for(lambda: automatic_runs(api, kept))  # reconciled from the database at start
        assert api.get(f"/api/integrations/{gone}").json()["data"]["nextSync"] is None
        time.sleep(1.5)
        assert automatic_runs(api, gone) == []


def test_a_second_fire_of_the_same_due_time_is_harmless(make_hub, new_database):
    """APScheduler 4 pre-releases may run a job twice when a lease lapses, and two
    processes may both fire: the same due time starts one run, whoever fires it when."""
    url = new_database()
    one = make_hub({"AXHUB_PLUGINS": "google"}, database_url=url)
    two = make_hub({"AXHUB_PLUGINS": "google"}, database_url=url)
    with one.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
        wait_for(lambda: api.get(f"/api/integrations/{integration}/history").json()["data"][0]["status"] == "success")
        due = datetime.now(timezone.utc).replace(microsecond=0)

        async def fire(hub):
            return await run_job(hub.services, "sync", due, integration_id=integration)

        # At once, from two hubs on one database.
        first = asyncio.run_coroutine_threadsafe(fire(one), one.loop)
        second = asyncio.run_coroutine_threadsafe(fire(two), two.loop)
        outcomes = sorted([first.result(60), second.result(60)])
        assert outcomes[1] == "started" and outcomes[0] in ("duplicate", "busy")
        assert len(automatic_runs(api, integration)) == 1
        # Again, long after the first finished (the lease-expiry double run).
        assert one.run(fire(one)) == "duplicate"
        assert two.run(fire(two)) == "duplicate"
        assert len(automatic_runs(api, integration)) == 1
        # The next due time is a new run.
        later = due + timedelta(seconds=300)
        assert two.run(run_job(two.services, "sync", later, integration_id=integration)) == "started"
        assert len(automatic_runs(api, integration)) == 2
        assert all(r["triggeredBy"] == "scheduled_sync" for r in automatic_runs(api, integration))


def test_axhub_jobs_lists_each_schedule_with_the_next_run_the_api_shows(hub):
    import json
    import os
    import subprocess
    import sys

    with hub.client("manager") as api:
        integration = connect(api, "google", settings={"autoSync": True, "syncInterval": 600})["integrationId"]
        idle = connect(api, "google", settings={"autoSync": False})["integrationId"]
        next_sync = api.get(f"/api/integrations/{integration}").json()["data"]["nextSync"]
    env = {**os.environ, **hub.env}
    out = subprocess.run([sys.executable, "-m", "axhub.cli", "jobs", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    listed = {item["id"]: item for item in json.loads(out)}
    assert parse(listed[f"sync:{integration}"]["nextRun"]) == parse(next_sync)
    assert listed[f"sync:{integration}"]["interval"] == 600
    assert listed[f"sync:{integration}"]["provider"] == "google"
    assert f"sync:{idle}" not in listed
    assert {"job:reminders", "job:weekly-report", "job:attendance-alerts", "job:token-refresh"} <= set(listed)
    table = subprocess.run([sys.executable, "-m", "axhub.cli", "jobs"], env=env, check=True,
                           capture_output=True, text=True).stdout
    assert table.splitlines()[0].split() == ["SCHEDULE", "PROVIDER", "INTERVAL", "NEXT", "RUN"]
    assert any(line.startswith(f"sync:{integration}") and "600s" in line for line in table.splitlines())


def jobs_listed(hub):
    import json
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "axhub.cli", "jobs", "--json"], env={**os.environ, **hub.env},
                         check=True, capture_output=True, text=True).stdout
    return {item["id"] for item in json.loads(out)}


def test_a_schedule_orphaned_by_a_crash_is_removed_at_the_next_start(make_hub, new_database):
    from sqlalchemy import delete

    from axhub.db import Integration

    url = new_database()
    first = make_hub({**SCHEDULING, "AXHUB_SCHEDULER": "0"}, database_url=url)
    with first.client("manager") as api:
        orphan = connect(api, "google", settings={"autoSync": True, "syncInterval": 3600})["integrationId"]
        kept = connect(api, "google", settings={"autoSync": True, "syncInterval": 3600})["integrationId"]

    async def vanish():  # the row goes and the process dies before the schedule follows
        async with first.services.db.session() as s, s.begin():
            await s.execute(delete(Integration).where(Integration.id == orphan))

    first.run(vanish())
    if not url.startswith("sqlite"):
        assert f"sync:{orphan}" in jobs_listed(first)  # the shared store still holds it
    first.stop()
    second = make_hub(SCHEDULING, database_url=url)
    listed = jobs_listed(second)
    assert f"sync:{orphan}" not in listed and f"sync:{kept}" in listed
