"""Zoom meetings for Attendance-X events and attendance from participant reports, through
the hub's HTTP API against the Zoom sandbox — as a new user would try it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from axhub import ProviderInfo, hookimpl
from axhub.testing import run_sync as sync

from zoomtools import Zoom, attendance, connect_zoom, create_event, event, finish, now, session

SPEC_SETTINGS = {
    "autoCreateMeetings": True,
    "meetingDefaults": {
        "type": "scheduled", "duration": 60, "timezone": "Europe/Paris", "password": True,
        "waitingRoom": True, "joinBeforeHost": False, "muteUponEntry": True,
        "recordingSettings": {"autoRecording": "cloud", "recordingAuthentication": True},
    },
    "attendanceTracking": {"enabled": True, "syncAttendance": True, "minimumDuration": 30},
}
ATTENDEES = [{"email": f"{n}@techcorp.com", "name": n.title()} for n in ("alice", "bob", "carol", "dave")]


@pytest.fixture
def api(hub):
    with hub.client("manager") as client:
        yield client


@pytest.fixture
def zoom(hub):
    return Zoom(hub)


@pytest.fixture
def heard(hub):
    """The notifications every plugin hears, through a tiny plugin's ``notify``."""
    notifications = []

    class Listener:
        @hookimpl
        def provider_info(self):
            return ProviderInfo(slug="listener", name="Listener", type="communication", description="test")

        @hookimpl
        async def notify(self, ctx, notification):
            notifications.append(notification)

    hub.services.plugins.register(Listener(), "listener")
    yield notifications
    hub.services.plugins.pm.unregister(name="listener")
    del hub.services.plugins.records["listener"]


def kinds(heard, kind, expect=0):
    """The notifications of ``kind`` heard so far, once ``expect`` of them arrived (they
    are delivered in the background); with ``expect=0``, after a short grace."""
    deadline = time.monotonic() + (10 if expect else 0.3)
    while time.monotonic() < deadline:
        found = [n for n in heard if n.kind == kind]
        if expect and len(found) >= expect:
            break
        time.sleep(0.02)
    return [n for n in heard if n.kind == kind]


# -- meetings ------------------------------------------------------------------------

def test_an_event_gets_a_meeting_with_the_configured_settings(api, zoom):
    integration = connect_zoom(api, **SPEC_SETTINGS, eventTypes=["meeting"])
    start = now() + timedelta(days=2)
    review = create_event(api, start, start + timedelta(minutes=90), description="Agenda: numbers", type="meeting")
    holiday = create_event(api, start, start + timedelta(hours=8), title="Holiday", type="holiday")

    run = sync(api, integration)
    assert run["status"] == "completed", run
    assert run["statistics"]["outbound"]["created"] == 1 and run["statistics"]["inbound"]["created"] == 0

    [meeting] = zoom.meetings().values()
    assert meeting["topic"] == "Weekly review" and meeting["type"] == 2 and meeting["agenda"] == "Agenda: numbers"
    assert meeting["start_time"] == review["start"] and meeting["duration"] == 60  # meetingDefaults.duration
    assert meeting["timezone"] == "Europe/Paris"
    assert len(meeting["password"]) == 10 and meeting["password"].isalnum()
    settings = meeting["settings"]
    assert settings["waiting_room"] is True and settings["join_before_host"] is False
    assert settings["mute_upon_entry"] is True and settings["auto_recording"] == "cloud"

    assert event(api, review["id"])["updatedAt"] == review["updatedAt"]  # the meeting is not an edit
    shown = event(api, review["id"])["meeting"]
    assert shown == {"provider": "zoom", "id": str(meeting["id"]), "joinUrl": meeting["join_url"],
                     "password": meeting["password"]}
    listed = {e["id"]: e for e in api.get("/api/events").json()["data"]}
    assert listed[review["id"]]["meeting"] == shown and listed[holiday["id"]]["meeting"] is None
    assert "start_url" not in str(shown) and meeting["start_url"] not in str(listed)  # the host's key stays at Zoom

    assert sync(api, integration)["statistics"]["eventsProcessed"] == 0  # nothing new: nothing done
    assert len(zoom.meetings()) == 1


def test_duration_and_timezone_default_to_the_event(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, meetingDefaults={"password": False})
    start = now() + timedelta(days=1)
    create_event(api, start, start + timedelta(minutes=45, seconds=30), timezone="America/New_York")
    assert sync(api, integration)["status"] == "completed"
    [meeting] = zoom.meetings().values()
    assert meeting["duration"] == 46 and meeting["timezone"] == "America/New_York"
    assert meeting["password"] == "" and meeting["settings"]["auto_recording"] == "none"


def test_editing_the_event_patches_the_meeting_and_deleting_it_deletes_the_meeting(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=3)
    created = create_event(api, start, start + timedelta(hours=1))
    sync(api, integration)
    [meeting_id] = zoom.meetings()
    joined = event(api, created["id"])["meeting"]

    moved = start + timedelta(hours=2)
    api.patch(f"/api/events/{created['id']}", json={"title": "Quarterly review", "start": moved.isoformat(),
                                                     "end": (moved + timedelta(minutes=30)).isoformat()})
    run = sync(api, integration)
    assert run["status"] == "completed" and run["statistics"]["outbound"]["updated"] == 1
    meeting = zoom.meetings()[meeting_id]
    assert meeting["topic"] == "Quarterly review" and meeting["duration"] == 30
    assert meeting["start_time"] == event(api, created["id"])["start"]
    assert zoom.calls()[str(meeting_id)] == ["create", "update"]
    assert event(api, created["id"])["meeting"] == joined  # same meeting, same link

    api.delete(f"/api/events/{created['id']}")
    run = sync(api, integration)
    assert run["status"] == "completed" and run["statistics"]["outbound"]["deleted"] == 1
    assert zoom.meetings() == {} and zoom.calls()[str(meeting_id)] == ["create", "update", "delete"]


def test_meeting_ids_beyond_2_to_the_53_stay_exact(api, zoom):
    big = 2**63 - 7  # a float would make this ...800
    zoom.control.post("/_control/meetings/next-id", json={"id": big})
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    sync(api, integration)
    assert event(api, created["id"])["meeting"]["id"] == str(big)
    api.patch(f"/api/events/{created['id']}", json={"title": "Renamed"})
    assert sync(api, integration)["status"] == "completed"
    # The PATCH reached the very meeting: an inexact id would have been a 404 and a new meeting.
    assert list(zoom.meetings()) == [big] and zoom.calls()[str(big)] == ["create", "update"]
    api.delete(f"/api/events/{created['id']}")
    sync(api, integration)
    assert zoom.meetings() == {}


def test_meetings_are_never_imported_and_only_created_when_asked(api, zoom):
    integration = connect_zoom(api)  # autoCreateMeetings is off by default
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    assert sync(api, integration)["statistics"]["outbound"]["created"] == 0
    assert zoom.meetings() == {}

    api.put(f"/api/integrations/{integration}/settings", json={"settings": {"autoCreateMeetings": True}})
    past = now() - timedelta(days=1)
    create_event(api, past, past + timedelta(hours=1), title="Already over")
    # Meetings only follow events: a run asked to import is refused, by name.
    refused = api.post(f"/api/integrations/{integration}/sync", json={"direction": "external_to_attendance"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "direction"
    run = sync(api, integration)
    assert run["statistics"]["outbound"]["created"] == 1 and run["statistics"]["inbound"]["created"] == 0
    assert run["direction"] == "attendance_to_external"
    [meeting] = zoom.meetings().values()
    assert meeting["topic"] == "Weekly review"  # the event already over got none
    assert len(api.get("/api/events").json()["data"]) == 2  # no meeting came back as an event

    # Switching creation off keeps existing meetings in step with their events.
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {"autoCreateMeetings": False}})
    api.patch(f"/api/events/{created['id']}", json={"title": "Still synced"})
    sync(api, integration)
    assert [m["topic"] for m in zoom.meetings().values()] == ["Still synced"]


def test_dry_run_plans_without_creating(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    run = sync(api, integration, options={"dryRun": True})
    assert [c["eventId"] for c in run["plan"]["external"]["create"]] == [created["id"]]
    assert zoom.meetings() == {} and event(api, created["id"])["meeting"] is None


# -- limits and failures ---------------------------------------------------------------

def test_a_spent_daily_limit_makes_the_run_partial_and_the_event_stays_usable(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    zoom.rate_limit(category="Medium", type="Daily-limit", limit=100, remaining=0)
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    run = sync(api, integration)
    assert run["status"] == "partial"
    [error] = run["errors"]
    assert error["eventId"] == created["id"] and error["code"] == "API_QUOTA_EXCEEDED"
    assert "daily rate limit" in error["error"]
    history = api.get(f"/api/integrations/{integration}/history?status=partial").json()["data"]
    assert history[0]["errors"][0]["code"] == "API_QUOTA_EXCEEDED"
    # The event is untouched and can still be edited.
    assert event(api, created["id"])["meeting"] is None
    assert api.patch(f"/api/events/{created['id']}", json={"title": "Still fine"}).status_code == 200

    zoom.rate_limit()  # a new day
    run = sync(api, integration)
    assert run["status"] == "completed"
    [meeting] = zoom.meetings().values()
    assert meeting["topic"] == "Still fine" and event(api, created["id"])["meeting"]["id"] == str(meeting["id"])


def test_a_spent_daily_limit_stops_the_runs_calls_to_zoom(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=1)
    ended = create_event(api, now() - timedelta(hours=2), now() + timedelta(hours=1), title="Ended", attendees=ATTENDEES[:1])
    sync(api, integration)
    finish(api, ended["id"])  # its participant report is due too
    created = [create_event(api, start, start + timedelta(hours=1), title=f"Review {i}") for i in range(3)]
    zoom.rate_limit(category="Medium", type="Daily-limit", limit=100, remaining=0)

    run = sync(api, integration)
    assert run["status"] == "partial"
    by_event = {e["eventId"]: e for e in run["errors"]}
    assert set(by_event) == {c["id"] for c in created} | {ended["id"]}
    assert {e["code"] for e in run["errors"]} == {"API_QUOTA_EXCEEDED"}
    # Zoom was asked once: every other op of the run was refused unsent, with the reason.
    assert zoom.control.get("/_control/rate-limit").json()["refused"] == 1
    unsent = [e for e in run["errors"] if "not sent" in e["error"]]
    assert len(unsent) == 3 and all("daily rate limit" in e["error"] and "resets at" in e["error"] for e in unsent)
    assert all(event(api, c["id"])["meeting"] is None for c in created)

    zoom.rate_limit()  # the next day's run does it all
    run = sync(api, integration)
    assert run["status"] == "completed", run
    assert len(zoom.meetings()) == 4


def test_throttling_is_waited_out_without_duplicates(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    zoom.fault(path="/v2/users/me/meetings", method="POST", status=429, count=2, headers={"Retry-After": "0.2"})
    start = now() + timedelta(days=1)
    create_event(api, start, start + timedelta(hours=1))
    run = sync(api, integration)
    assert run["status"] == "completed" and len(zoom.meetings()) == 1


def test_a_create_whose_answer_was_lost_is_not_made_twice(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=1)
    first = create_event(api, start, start + timedelta(hours=1), title="Lost once")
    zoom.control.post("/_control/meetings/lose-answers", json={"count": 1})
    run = sync(api, integration)
    assert run["status"] == "completed", run
    [meeting] = zoom.meetings().values()
    assert event(api, first["id"])["meeting"]["id"] == str(meeting["id"])

    # Lost again, and Zoom cannot be asked what it holds until the next run (as after a
    # hub killed before it saved the link): that run finds the meeting instead of
    # making another.
    second = create_event(api, start, start + timedelta(hours=1), title="Lost for a run")
    zoom.control.post("/_control/meetings/next-id", json={"id": 9_000_000_001})
    zoom.control.post("/_control/meetings/lose-answers", json={"count": 1})
    zoom.fault(path="/v2/meetings/9000000001", method="GET", status=400)
    assert sync(api, integration)["status"] == "partial"
    assert len(zoom.meetings()) == 2 and event(api, second["id"])["meeting"] is None
    assert sync(api, integration)["status"] == "completed"
    meetings = zoom.meetings()
    assert sorted(m["topic"] for m in meetings.values()) == ["Lost for a run", "Lost once"]
    assert int(event(api, second["id"])["meeting"]["id"]) in meetings


def test_a_meeting_deleted_in_zoom_is_recreated_when_its_event_changes(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() + timedelta(days=1)
    created = create_event(api, start, start + timedelta(hours=1))
    sync(api, integration)
    [old] = zoom.meetings()
    token = zoom.control.get("/_control/tokens").json()["accessTokens"][-1]
    base = zoom.control.base_url
    import httpx

    assert httpx.delete(f"{base}/v2/meetings/{old}", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    api.patch(f"/api/events/{created['id']}", json={"title": "Back again"})
    assert sync(api, integration)["status"] == "completed"
    [new] = zoom.meetings()
    assert new != old and event(api, created["id"])["meeting"]["id"] == str(new)


# -- attendance ------------------------------------------------------------------------

def test_attendance_from_a_meeting_where_people_drop_and_rejoin(api, zoom, heard):
    """The Done-when scenario: an event gets a Zoom meeting; people join, drop and rejoin;
    attendance comes back with minimumDuration applied and attendanceUpdated is raised."""
    # The app may also set recording settings (recordingAuthentication).
    zoom.control.post("/_control/app-scopes", json=["meeting:read", "meeting:write", "report:read:admin", "user:read",
                                                    "recording:write"])
    integration = connect_zoom(api, **SPEC_SETTINGS)
    start = now() - timedelta(minutes=60)
    end = now() + timedelta(hours=1)  # under way: it gets a meeting
    created = create_event(api, start, end, attendees=ATTENDEES)
    api.put(f"/api/events/{created['id']}/attendance",
            json={"records": [{"email": "dave@techcorp.com", "status": "excused"}]})  # set by hand
    assert len(kinds(heard, "attendanceUpdated", expect=1)) == 1
    heard.clear()
    assert sync(api, integration)["status"] == "completed"
    meeting_id = event(api, created["id"])["meeting"]["id"]
    finish(api, created["id"])

    # Over, but not played yet: Zoom has no report. Pending, not everyone absent.
    run = sync(api, integration)
    assert run["status"] == "completed"
    assert run["statistics"]["attendance"]["pending"][0]["eventId"] == created["id"]
    assert "not ready" in run["statistics"]["attendance"]["pending"][0]["reason"]
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "unknown"

    guests = [{"name": f"Guest {i}", "email": f"guest{i}@example.org", "sessions": [session(start, 5, 50)]}
              for i in range(320)]  # enough records for two pages of 300
    zoom.play(meeting_id, [
        # drops after 20 minutes, rejoins at 25: 55 minutes → present
        {"name": "Alice A.", "email": "Alice@TechCorp.com", "sessions": [session(start, 0, 20), session(start, 25, 60)]},
        # two devices at once: 25 minutes, not 35 → absent (minimum 30)
        {"name": "Bob", "email": "bob@techcorp.com", "sessions": [session(start, 0, 20), session(start, 10, 25)]},
        # 10 minutes in the waiting room do not count: 35 minutes → present
        {"name": "Carol", "email": "carol@techcorp.com",
         "sessions": [session(start, 0, 10, status="in_waiting_room"), session(start, 10, 45)]},
        {"name": "Erin (not invited)", "email": "erin@elsewhere.org", "sessions": [session(start, 0, 60)]},
        *guests,
    ], report_delay=1800)

    run = sync(api, integration)  # the report takes a while to appear at Zoom
    assert run["statistics"]["attendance"]["pending"] and not kinds(heard, "attendanceUpdated")

    zoom.advance(1801)
    run = sync(api, integration)
    assert run["status"] == "completed", run
    records = attendance(api, created["id"])
    assert {e: (r["status"], r["durationMinutes"]) for e, r in records.items()} == {
        "alice@techcorp.com": ("present", 55),
        "bob@techcorp.com": ("absent", 25),
        "carol@techcorp.com": ("present", 35),
        "dave@techcorp.com": ("excused", None),  # what a manager set by hand is kept
    }
    assert {r["source"] for e, r in records.items() if e != "dave@techcorp.com"} == {"zoom"}
    [detail] = run["statistics"]["attendance"]["details"]
    assert detail["participants"] == 324 and detail["present"] == 2
    assert {"email": "erin@elsewhere.org", "name": "Erin (not invited)", "minutes": 60} in detail["unmatched"]
    assert zoom.calls()[meeting_id].count("report") == 2  # both pages
    [notification] = kinds(heard, "attendanceUpdated", expect=1)
    assert notification.data["eventId"] == created["id"] and notification.data["present"] == 2
    shown = event(api, created["id"])["meeting"]["attendance"]
    assert shown["status"] == "recorded" and shown["present"] == 2 and shown["unmatched"] == 321
    # recordingAuthentication reaches the cloud recording once there is one.
    assert zoom.meetings()[int(meeting_id)]["recording_settings"] == {"recording_authentication": True}

    # Running again changes nothing, even when asked to look again.
    before = attendance(api, created["id"])
    again = sync(api, integration)
    forced = sync(api, integration, options={"forceUpdate": True})
    assert again["status"] == forced["status"] == "completed"
    assert forced["statistics"]["attendance"]["unchanged"] == 1
    assert attendance(api, created["id"]) == before
    assert len(kinds(heard, "attendanceUpdated")) == 1


def test_minimum_duration_zero_counts_anyone_who_joined(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, attendanceTracking={"minimumDuration": 0})
    start = now() - timedelta(minutes=30)
    end = now() + timedelta(hours=1)
    created = create_event(api, start, end, attendees=ATTENDEES[:2])
    sync(api, integration)
    finish(api, created["id"])
    zoom.play(event(api, created["id"])["meeting"]["id"],
              [{"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 3, 4)]}])
    assert sync(api, integration)["status"] == "completed"
    records = attendance(api, created["id"])
    assert records["alice@techcorp.com"]["status"] == "present" and records["bob@techcorp.com"]["status"] == "absent"


def test_attendance_is_not_pulled_when_tracking_is_off(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True, attendanceTracking={"syncAttendance": False})
    start = now() - timedelta(minutes=30)
    end = now() + timedelta(hours=1)
    created = create_event(api, start, end, attendees=ATTENDEES[:1])
    sync(api, integration)
    finish(api, created["id"])
    meeting_id = event(api, created["id"])["meeting"]["id"]
    zoom.play(meeting_id, [{"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 0, 30)]}])
    sync(api, integration)
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "unknown"
    assert "report" not in zoom.calls()[meeting_id]


def test_a_report_long_overdue_is_asked_for_less_often(api, zoom):
    """Zoom never makes a report for a meeting nobody joined: with a sync every few
    minutes, asking each time for 30 days would spend the report quota for nothing."""
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() - timedelta(hours=3)
    created = create_event(api, start, now() + timedelta(hours=1), attendees=ATTENDEES[:1])
    sync(api, integration)
    api.patch(f"/api/events/{created['id']}", json={"end": (now() - timedelta(hours=2)).isoformat()})
    zoom.rate_limit(category="Heavy", type="Daily-limit", limit=1000)  # counts the calls

    def asked():
        return 1000 - zoom.control.get("/_control/rate-limit").json()["remaining"]

    run = sync(api, integration)
    assert "not ready" in run["statistics"]["attendance"]["pending"][0]["reason"] and asked() == 1
    assert event(api, created["id"])["meeting"]["attendance"]["status"] == "pending"
    # Two hours after the end, the next ask waits half an hour.
    run = sync(api, integration)
    assert run["status"] == "completed" and "asks again" in run["statistics"]["attendance"]["pending"][0]["reason"]
    assert asked() == 1
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "unknown"
    # Asked for, it looks at once.
    sync(api, integration, options={"forceUpdate": True})
    assert asked() == 2


def test_a_failing_report_is_an_error_of_the_run_and_retried(api, zoom):
    integration = connect_zoom(api, autoCreateMeetings=True)
    start = now() - timedelta(minutes=30)
    end = now() + timedelta(hours=1)
    created = create_event(api, start, end, attendees=ATTENDEES[:1])
    sync(api, integration)
    finish(api, created["id"])
    meeting_id = event(api, created["id"])["meeting"]["id"]
    zoom.play(meeting_id, [{"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 0, 30)]}])
    zoom.fault(path=f"/v2/report/meetings/{meeting_id}", status=400, count=1)
    run = sync(api, integration)
    assert run["status"] == "partial" and run["errors"][0]["action"] == "attendance"
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "unknown"
    assert sync(api, integration)["status"] == "completed"
    assert attendance(api, created["id"])["alice@techcorp.com"]["status"] == "present"
