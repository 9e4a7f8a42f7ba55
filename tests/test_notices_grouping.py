"""Notices that do not spam: failed deliveries to one target grouped (one notice, then
a summary), a partial run's notice saying what failed, and `axhub jobs` showing an
integration in error as paused with the reason."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from axhub.deliveries.notices import window_of
from axhub.scheduler.jobs import run_job
from axhub.testing import Clock, HubServer, connect_synced, run_sync, wait_until
from axhub.testing.notifier import NotificationRecorder
from axhub.testing.receiver import Receiver

EVENT = {"title": "Formation", "start": "2026-06-01T09:00:00Z", "end": "2026-06-01T10:00:00Z"}
FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}


@pytest.fixture
def grouped_hub(new_database, tmp_path):
    env = {"AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PLUGINS": "webhooks", "AXHUB_DELIVERY_WORKER": "0",
           "AXHUB_NOTICE_GROUP_SECONDS": "600"}
    server = HubServer(new_database(), tmp_path / "hub", env, clock=Clock()).start()
    server.channel = NotificationRecorder().attach(server)
    yield server
    server.stop()


def test_failures_of_one_target_are_one_notice_then_a_summary(grouped_hub):
    hub = grouped_hub
    start = window_of(hub.clock.now, 600)
    hub.clock.now = start + timedelta(seconds=1)
    with Receiver() as failing, hub.client("manager") as api:
        failing.default.status = 500
        api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {"eventCreated": {
            "url": failing.url, "retryPolicy": {"maxRetries": 0, "backoffMultiplier": 1}}}}}).raise_for_status()
        for _ in range(3):
            api.post("/api/events", json=EVENT).raise_for_status()
        hub.run(hub.services.tasks.drain())
        assert hub.run(hub.services.worker.run_due()) == 3
        hub.run(hub.services.tasks.drain())
        assert len(failing.requests) == 3
    [first] = hub.channel.of_kind("integrationError")
    assert first["grouped"] == 0 and first["code"] == "WEBHOOK_FAILED"

    # The window still open: nothing to sum up yet.
    hub.run(run_job(hub.services, "delivery-retries", start + timedelta(seconds=300)))
    hub.run(hub.services.tasks.drain())
    assert len(hub.channel.of_kind("integrationError")) == 1
    # Closed: one summary of the two others, once however often the job runs.
    for _ in range(2):
        hub.run(run_job(hub.services, "delivery-retries", start + timedelta(seconds=601)))
        hub.run(hub.services.tasks.drain())
    first_again, summary = hub.channel.of_kind("integrationError")
    assert summary["grouped"] == 2 and summary["target"] == first["target"]
    assert "2 more message(s)" in summary["error"] and "WEBHOOK_FAILED ×3" in summary["error"]


@pytest.fixture
def google_hub(make_hub):
    server = make_hub({"AXHUB_PLUGINS": "google"})
    server.channel = NotificationRecorder().attach(server)
    return server


def test_a_partial_runs_notice_says_what_failed(google_hub):
    hub = google_hub
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        api.post("/api/events", json=EVENT).raise_for_status()
        api.post("/api/events", json={**EVENT, "title": "Atelier"}).raise_for_status()
        hub.sandbox("google").post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events",
                                                             "method": "POST", "status": 403, "body": FORBIDDEN})
        assert run_sync(api, integration)["status"] == "partial"
    notice = wait_until(lambda: [n.data for n in hub.channel.heard if n.kind == "syncErrorNotification"])[0]
    assert notice["status"] == "partial"
    assert notice["message"].startswith("1 of 2 event(s) not synced (PERMISSION_DENIED ×1); first: ")


def test_jobs_shows_an_integration_in_error_as_paused(hub):
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        hub.sandbox("google").post("/_control/revoke-all")
        hub.sandbox("google").post("/_control/expire-access-tokens")
        run_sync(api, integration)
        view = api.get(f"/api/integrations/{integration}").json()["data"]
    assert view["status"] == "error", view
    env = {**os.environ, **hub.env}
    listed = json.loads(subprocess.run([sys.executable, "-m", "axhub.cli", "jobs", "--json"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    [item] = [i for i in listed if i["integrationId"] == integration]
    assert item["paused"]["code"] == "INVALID_CREDENTIALS" and item["nextRun"] is None
    table = subprocess.run([sys.executable, "-m", "axhub.cli", "jobs"], env=env, check=True, capture_output=True,
                           text=True).stdout
    assert f"sync:{integration}" in table and "paused: INVALID_CREDENTIALS" in table
