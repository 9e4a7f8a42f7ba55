"""Zoom without manual syncs: event changes start a sync soon after (``ctx.syncs``), and
the integration's schedule (``autoSync``/``syncInterval``) pulls attendance once meetings
end and asks again while Zoom's report is not ready. Through the HTTP API and the Zoom
sandbox of a hub whose scheduler runs; nobody calls ``POST /sync`` here."""

from __future__ import annotations

from datetime import timedelta

import pytest

from axhub.testing import wait_until

from zoomtools import Zoom, attendance, connect_zoom, create_event, event, finish, now, session

ATTENDEES = [{"email": f"{n}@techcorp.com", "name": n.title()} for n in ("alice", "bob")]


@pytest.fixture
def auto(make_hub):
    """A hub running its scheduler, with a short debounce and a one-second minimum
    interval so that tests do not wait."""
    return make_hub({"AXHUB_SCHEDULER": "1", "AXHUB_PLUGINS": "zoom", "AXHUB_SYNC_REQUEST_DELAY": "0.2",
                     "AXHUB_SYNC_REQUEST_RETRY": "0.1", "AXHUB_SYNC_INTERVAL_MIN": "1"})


@pytest.fixture
def api(auto):
    with auto.client("manager") as client:
        yield client


@pytest.fixture
def zoom(auto):
    return Zoom(auto)


def history(api, integration):
    return api.get(f"/api/integrations/{integration}/history?limit=100").json()["data"]


def requested(api, integration):
    """The finished runs that event changes started."""
    return [r for r in history(api, integration)
            if isinstance(r["triggeredBy"], dict) and r["triggeredBy"].get("name") == "sync_request"
            and r["status"] not in ("started", "running")]


def test_event_changes_reach_zoom_without_a_manual_sync(api, zoom):
    # The schedule is an hour away: what happens here is the event changes' doing.
    integration = connect_zoom(api, autoCreateMeetings=True, syncInterval=3600)
    start = now() + timedelta(days=2)
    created = create_event(api, start, start + timedelta(hours=1))

    meeting = wait_until(lambda: event(api, created["id"])["meeting"])
    assert int(meeting["id"]) in zoom.meetings()
    [run] = wait_until(lambda: requested(api, integration))
    assert run["type"] == "automatic" and run["status"] == "success"
    assert run["triggeredBy"]["reason"] == f"eventCreated {created['id']}"

    api.patch(f"/api/events/{created['id']}", json={"title": "Moved review"})
    wait_until(lambda: zoom.meetings()[int(meeting["id"])]["topic"] == "Moved review")
    api.delete(f"/api/events/{created['id']}")
    wait_until(lambda: zoom.meetings() == {})
    assert zoom.calls()[meeting["id"]] == ["create", "update", "delete"]
    runs = wait_until(lambda: len(requested(api, integration)) == 3 and requested(api, integration))
    assert {r["status"] for r in runs} == {"success"}


def test_a_burst_of_changes_is_one_run_or_two_and_each_gets_its_meeting(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, syncInterval=3600)
    start = now() + timedelta(days=1)
    created = [create_event(api, start, start + timedelta(hours=1), title=f"Session {i}") for i in range(5)]
    wait_until(lambda: all(event(api, c["id"])["meeting"] for c in created))
    assert len(zoom.meetings()) == 5  # none twice
    runs = requested(api, integration)
    assert 1 <= len(runs) < 5 and {r["status"] for r in runs} == {"success"}


def test_a_change_while_a_run_is_busy_is_done_by_the_next_run(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, syncInterval=3600)
    start = now() + timedelta(days=1)
    # Zoom is slow to create the first meeting: that run is still going when the next
    # change comes; its request meets a 409, waits, and runs after it.
    zoom.fault(path="/v2/users/me/meetings", method="POST", status=0, delay=1.0, count=1)
    first = create_event(api, start, start + timedelta(hours=1), title="First")
    wait_until(lambda: any(r["status"] == "running" for r in history(api, integration)))
    second = create_event(api, start, start + timedelta(hours=1), title="Second")

    wait_until(lambda: event(api, first["id"])["meeting"] and event(api, second["id"])["meeting"])
    assert sorted(m["topic"] for m in zoom.meetings().values()) == ["First", "Second"]
    runs = wait_until(lambda: len(requested(api, integration)) >= 2 and requested(api, integration))
    assert {r["status"] for r in runs} == {"success"}
    assert any(r["triggeredBy"]["reason"] == f"eventCreated {second['id']}" for r in runs)


def test_no_automatic_runs_when_auto_sync_is_off(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, autoSync=False)
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    # Another integration's change is heard meanwhile: once it is done, ours had its chance.
    other = connect_zoom(api, autoCreateMeetings=True, syncInterval=3600, eventTypes=["other"])
    marker = create_event(api, start, start + timedelta(hours=1), type="other")
    wait_until(lambda: event(api, marker["id"])["meeting"])
    assert event(api, created["id"])["meeting"] is None
    assert requested(api, integration) == [] and requested(api, other)


def test_attendance_comes_back_on_schedule_and_waits_for_the_report(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, syncInterval=1,
                               attendanceTracking={"minimumDuration": 30})
    start = now() - timedelta(minutes=60)
    created = create_event(api, start, now() + timedelta(hours=1), attendees=ATTENDEES)
    meeting_id = wait_until(lambda: (event(api, created["id"])["meeting"] or {}).get("id"))

    zoom.play(meeting_id, [
        {"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 0, 20), session(start, 25, 60)]},
        {"name": "Bob", "email": "bob@techcorp.com", "sessions": [session(start, 0, 10)]},
    ], report_delay=1800)
    finish(api, created["id"])

    # Over, and Zoom's report is not ready: the scheduled runs say so, nobody is absent.
    wait_until(lambda: (event(api, created["id"])["meeting"].get("attendance") or {}).get("status") == "pending")
    pending = wait_until(lambda: [r for r in history(api, integration)
                                  if (r["statistics"].get("attendance") or {}).get("pending")])
    assert "not ready" in pending[0]["statistics"]["attendance"]["pending"][0]["reason"]
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "unknown"

    zoom.advance(1801)  # the report appears; a later scheduled run reads it
    wait_until(lambda: attendance(api, created["id"])["alice@techcorp.com"]["status"] == "present")
    records = attendance(api, created["id"])
    assert records["alice@techcorp.com"]["durationMinutes"] == 55
    assert records["bob@techcorp.com"]["status"] == "absent"
    assert event(api, created["id"])["meeting"]["attendance"]["status"] == "recorded"
    assert all(r["type"] in ("initial", "automatic") for r in history(api, integration))


def test_a_request_that_never_ran_is_done_by_the_scheduled_run(hub):
    """Requests are a shortcut: one lost (here: the test hub runs no scheduled jobs, as a
    process killed while it waited) leaves the change to the integration's next run,
    which works from the events' change log."""
    from axhub.scheduler.jobs import run_job

    with hub.client("manager") as api:
        integration = connect_zoom(api, autoCreateMeetings=True)
        start = now() + timedelta(days=1)
        created = create_event(api, start, start + timedelta(hours=1))
        wait_until(lambda: any(s["id"] == f"sync-request:{integration}"
                               for s in hub.run(hub.services.scheduler.schedules())))
        assert event(api, created["id"])["meeting"] is None
        assert hub.run(run_job(hub.services, "sync", integration_id=integration)) == "started"
        assert event(api, created["id"])["meeting"]["provider"] == "zoom"
        assert Zoom(hub).meetings()
