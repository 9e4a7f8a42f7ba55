"""Two-way sync with Google Calendar, through the hub's API and the sandbox's Calendar API."""

import pytest
from synctools import Calendar, connect_google, sync, wait

from axhub.testing.calendar import CalendarConformance, local_events, new_event


@pytest.fixture
def cal(hub):
    return Calendar(hub)


class TestConformance(CalendarConformance):
    provider = "google"
    list_path = "/calendar/v3/calendars/primary/events"
    refusing_filters = {"filters": {"eventTypes": ["training"]}}

    def remote(self, hub):
        return Calendar(hub)

    def check_cleanup(self, cleanup):
        assert cleanup["tokensRevoked"] is True


def test_initial_sync_is_scheduled_at_connect_and_imports_the_calendar(hub, cal):
    with hub.client("manager") as api:
        cal_first = cal  # the sandbox user's calendar already has events before we connect
        from axhub.testing import connect

        api.post("/api/events", json={"title": "Local one", "start": "2026-06-02T09:00:00Z", "end": "2026-06-02T10:00:00Z"})
        data = connect(api, "google")
        assert data["initialSync"]["status"] == "scheduled" and data["initialSync"]["syncId"].startswith("sync-")
        run = wait(api, data["integrationId"], data["initialSync"]["syncId"])
        assert run["status"] == "completed" and run["type"] == "initial"
        titles = [e["summary"] for e in cal_first.events()]
        assert titles == ["Local one"]
        assert run["triggeredBy"] == "initial_sync"


def test_remote_events_come_in_and_a_second_sync_changes_nothing(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        cal.insert_event("Board meeting", "2026-06-03T09:00:00+02:00", "2026-06-03T10:30:00+02:00",
                   location="HQ", attendees=[{"email": "Ann@Example.com", "displayName": "Ann"}])
        run = sync(api, integration)
        assert run["status"] == "completed" and run["statistics"]["inbound"]["created"] == 1
        [event] = local_events(api)
        assert event["title"] == "Board meeting" and event["start"] == "2026-06-03T07:00:00Z"
        assert event["location"] == "HQ" and event["attendees"] == [{"email": "ann@example.com", "name": "Ann", "role": "attendee"}]
        assert event["source"] == "google"
        before = cal.stats()["counters"]
        again = sync(api, integration)
        stats = again["statistics"]
        assert (stats["eventsCreated"], stats["eventsUpdated"], stats["eventsDeleted"]) == (0, 0, 0)
        after = cal.stats()["counters"]
        assert {k: v for k, v in after.items() if "insert" in k or "patch" in k or "delete" in k or k.startswith("batch")} == \
               {k: v for k, v in before.items() if "insert" in k or "patch" in k or "delete" in k or k.startswith("batch")}
        assert local_events(api) == [event]


def test_a_bulk_import_keeps_every_field(hub, cal):
    """Hundreds of events at once go straight to the database driver (COPY on
    PostgreSQL, one executemany of bound values on SQLite): what the API gives back is
    what Google holds, times in UTC, and the links make a second sync a no-op."""
    from datetime import datetime, timezone

    utc = lambda value: datetime.fromisoformat(value).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    with hub.client("manager") as api:
        integration = connect_google(api)
        cal.control.post("/_control/calendar/seed", json={"count": 300, "start": "2026-06-01T08:00:00Z", "prefix": "Bulk",
                                                           "durationMinutes": 45, "intervalMinutes": 90})
        cal.insert_event("Board meeting", "2026-06-03T09:00:00+02:00", "2026-06-03T10:30:00+02:00", location="HQ",
                         description="Quarterly", attendees=[{"email": "ann@example.com", "displayName": "Ann"}])
        assert sync(api, integration)["statistics"]["inbound"]["created"] == 301
        events = local_events(api)
        remote = {e["summary"]: e for e in cal.events()}
        assert len(events) == len(remote) == 301
        for event in events:
            google = remote[event["title"]]
            assert (event["start"], event["end"]) == (utc(google["start"]["dateTime"]), utc(google["end"]["dateTime"]))
            assert (event["location"], event["description"]) == (google.get("location"), google.get("description"))
            assert event["source"] == "google" and event["private"] is False
        board = next(e for e in events if e["title"] == "Board meeting")
        assert board["attendees"] == [{"email": "ann@example.com", "name": "Ann", "role": "attendee"}]
        assert sync(api, integration)["statistics"]["eventsProcessed"] == 0


def test_local_events_go_out_with_prefix_and_our_id_and_nothing_twice(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api, eventMapping={"titlePrefix": "[Attendance-X] ", "colorId": "2"},
                                     notifications={"reminders": True, "reminderMinutes": [15, 60]})
        event = new_event(api, "Formation", type="training", description="Bring a laptop", location="Room 2",
                          attendees=[{"email": "paul@techcorp.com", "name": "Paul"}])
        run = sync(api, integration)
        assert run["statistics"]["outbound"]["created"] == 1
        [remote] = cal.events()
        assert remote["summary"] == "[Attendance-X] Formation"
        assert remote["extendedProperties"]["private"]["axhubEventId"] == event["id"]
        assert remote["colorId"] == "2" and remote["location"] == "Room 2"
        assert remote["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15},
                                                                          {"method": "popup", "minutes": 60}]}
        assert [a["email"] for a in remote["attendees"]] == ["paul@techcorp.com"]
        # Our own write comes back in the next listing: it is recognised, nothing moves.
        again = sync(api, integration)["statistics"]
        assert (again["eventsCreated"], again["eventsUpdated"], again["eventsDeleted"]) == (0, 0, 0)
        assert len(cal.events()) == 1 and len(local_events(api)) == 1
        assert local_events(api)[0]["title"] == "Formation"


def test_conflict_later_modification_wins_and_is_recorded(hub, cal):
    import time

    with hub.client("manager") as api:
        integration = connect_google(api)
        mine = new_event(api, "Shared")
        sync(api, integration)
        [remote] = cal.events()
        cal.api("PATCH", f"/{remote['id']}", json={"summary": "Edited in Google"})
        time.sleep(0.05)
        api.patch(f"/api/events/{mine['id']}", json={"title": "Edited in Attendance-X, later"})
        run = sync(api, integration)
        assert [c["winner"] for c in run["conflicts"]] == ["attendanceX"]
        assert cal.events()[0]["summary"] == "Edited in Attendance-X, later"
        history = api.get(f"/api/integrations/{integration}/history").json()["data"]
        assert history[0]["conflicts"][0]["eventId"] == mine["id"]


def test_dry_run_reports_the_plan_and_writes_nothing(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "Would go out")
        cal.insert_event("Would come in", "2026-06-07T09:00:00Z", "2026-06-07T10:00:00Z")
        before = cal.stats()["counters"]
        run = sync(api, integration, options={"dryRun": True})
        assert run["status"] == "completed" and run["dryRun"] is True
        assert [i["title"] for i in run["plan"]["external"]["create"]] == ["Would go out"]
        assert [i["title"] for i in run["plan"]["attendanceX"]["create"]] == ["Would come in"]
        assert len(local_events(api)) == 1 and len(cal.events()) == 1
        assert cal.stats()["counters"].get("batch", 0) == before.get("batch", 0)
        real = sync(api, integration)
        assert real["statistics"]["eventsCreated"] == 2


def test_a_second_sync_while_one_runs_is_409_with_the_running_id(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        cal.control.post("/_control/faults", json={"path": "/calendar/v3", "status": 0, "delay": 1.0, "count": 1})
        first = api.post(f"/api/integrations/{integration}/sync", json={}).json()["data"]
        second = api.post(f"/api/integrations/{integration}/sync", json={})
        assert second.status_code == 409 and second.json()["error"]["code"] == "CONFLICT"
        assert second.json()["error"]["details"]["syncId"] == first["syncId"]
        assert wait(api, integration, first["syncId"])["status"] == "completed"
        third = api.post(f"/api/integrations/{integration}/sync", json={})
        assert third.status_code == 202, third.text


def test_per_event_failures_make_the_run_partial_and_are_retried_next_time(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "Refused")
        new_event(api, "Fine", start="2026-06-02T09:00:00Z", end="2026-06-02T10:00:00Z")
        forbidden = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                               "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                           "message": "You need to have writer access to this calendar."}]}}
        cal.control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "POST",
                                                   "status": 403, "count": 1, "body": forbidden})
        run = sync(api, integration)
        assert run["status"] == "partial"
        assert [(e["code"], e["action"]) for e in run["errors"]] == [("PERMISSION_DENIED", "create")]
        assert "writer access" in run["errors"][0]["error"]
        assert len(cal.events()) == 1
        history = api.get(f"/api/integrations/{integration}/history", params={"status": "partial"}).json()["data"]
        assert history[0]["errors"][0]["code"] == "PERMISSION_DENIED"
        assert sync(api, integration)["status"] == "completed"
        assert sorted(e["summary"] for e in cal.events()) == ["Fine", "Refused"]


def test_throttling_is_retried_with_backoff_and_converges(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        for i in range(60):
            new_event(api, f"E{i:02d}", start=f"2026-07-01T{i % 24:02d}:00:00Z", end=f"2026-07-01T{i % 24:02d}:30:00Z")
        cal.control.post("/_control/chaos", json={"rate": 0.2, "statuses": [429, 403, 500, 503], "seed": 7})
        run = sync(api, integration)
        cal.control.delete("/_control/chaos")
        assert run["status"] in ("completed", "partial")
        if run["status"] == "partial":  # what Google kept refusing goes out next time
            # Each keeps the code of the last answer: throttled, or failing (500, 503).
            assert {e["code"] for e in run["errors"]} <= {"RATE_LIMIT_EXCEEDED", "SYNC_FAILED"}
            sync(api, integration)
        assert len(cal.events()) == 60 and len({e["summary"] for e in cal.events()}) == 60


def test_filters_keep_events_off_the_calendar(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api, filters={"eventTypes": ["training"], "excludePrivate": True, "minDuration": 30})
        new_event(api, "Training", type="training")
        new_event(api, "Meeting", type="meeting")
        new_event(api, "Private training", type="training", private=True)
        new_event(api, "Short training", type="training", end="2026-06-01T09:15:00Z")
        sync(api, integration)
        assert [e["summary"] for e in cal.events()] == ["Training"]
        # An event leaving the filter leaves the calendar.
        training = next(e for e in local_events(api) if e["title"] == "Training")
        api.patch(f"/api/events/{training['id']}", json={"type": "meeting"})
        sync(api, integration)
        assert cal.events() == []


def test_directions(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "Local")
        cal.insert_event("Remote", "2026-06-09T09:00:00Z", "2026-06-09T10:00:00Z")
        run = sync(api, integration, direction="external_to_attendance")
        assert run["direction"] == "external_to_attendance"
        assert [e["summary"] for e in cal.events()] == ["Remote"]
        assert sorted(e["title"] for e in local_events(api)) == ["Local", "Remote"]
        sync(api, integration, direction="attendance_to_external")
        assert sorted(e["summary"] for e in cal.events()) == ["Local", "Remote"]


def test_history_statistics_and_filters(hub, cal):
    with hub.client("manager", user="user-42", name="Marie Dubois") as api:
        integration = connect_google(api)
        new_event(api, "One")
        sync(api, integration)
        history = api.get(f"/api/integrations/{integration}/history").json()
        assert history["meta"] == {"page": 1, "limit": 50, "total": 2, "totalPages": 1}
        latest = history["data"][0]
        assert latest["status"] == "success" and latest["type"] == "manual"
        assert latest["triggeredBy"] == {"userId": "user-42", "name": "Marie Dubois"}
        assert set(latest["statistics"]) >= {"eventsProcessed", "eventsCreated", "eventsUpdated", "eventsDeleted", "errors"}
        assert latest["duration"].endswith("s")
        assert history["data"][1]["triggeredBy"] == "initial_sync"
        assert api.get(f"/api/integrations/{integration}/history", params={"status": "error"}).json()["data"] == []
        # Both vocabularies filter: history's words and the live status's.
        for success in ("success", "completed"):
            found = api.get(f"/api/integrations/{integration}/history", params={"status": success}).json()["data"]
            assert [r["id"] for r in found] == [r["id"] for r in history["data"]] and {r["status"] for r in found} == {"success"}
        assert api.get(f"/api/integrations/{integration}/history", params={"status": "failed"}).json()["data"] == []
        live = api.get(f"/api/integrations/{integration}/sync/{latest['id']}/status").json()["data"]
        assert live["status"] == "completed"  # the same run, in the status's words
        assert len(api.get(f"/api/integrations/{integration}/history", params={"limit": 1}).json()["data"]) == 1
        bad = api.get(f"/api/integrations/{integration}/history", params={"status": "great"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"
        view = api.get(f"/api/integrations/{integration}").json()["data"]
        assert view["statistics"]["eventsSynced"] == 1 and view["statistics"]["successRate"] == 1.0
        assert view["statistics"]["lastSyncDuration"] == latest["duration"]  # the last run's, under a minute
        assert view["statistics"]["errorCount"] == 0 and view["lastSync"] is not None
        other = connect_google(api)  # a list shows each integration's own figures
        listed = {i["id"]: i["statistics"] for i in api.get("/api/integrations").json()["data"]}
        assert listed[integration] == view["statistics"] and listed[other]["eventsSynced"] == 1


@pytest.mark.parametrize("body,field", [
    ({"direction": "sideways"}, "direction"),
    ({"scope": "everything"}, "scope"),
    ({"options": {"dateRange": {"start": "2026-03-31T00:00:00Z", "end": "2026-03-01T00:00:00Z"}}}, "options.dateRange.end"),
    ({"options": {"dryrun": True}}, "options.dryrun"),
])
def test_bad_sync_requests(hub, body, field):
    with hub.client("manager") as api:
        integration = connect_google(api)
        response = api.post(f"/api/integrations/{integration}/sync", json=body)
        assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_date_range_limits_the_run(hub, cal):
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "March", start="2026-03-10T09:00:00Z", end="2026-03-10T10:00:00Z")
        new_event(api, "April", start="2026-04-10T09:00:00Z", end="2026-04-10T10:00:00Z")
        sync(api, integration, options={"dateRange": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-31T23:59:59Z"}})
        assert [e["summary"] for e in cal.events()] == ["March"]
        sync(api, integration)
        assert sorted(e["summary"] for e in cal.events()) == ["April", "March"]


def test_every_request_we_send_and_every_answer_is_googles_shape(hub, cal):
    """The adapter's calls and the sandbox's answers, checked against the discovery document."""
    from discovery import validate_log

    with hub.client("manager") as api:
        integration = connect_google(api, eventMapping={"titlePrefix": "[AX] ", "colorId": "5"},
                                     notifications={"reminders": True, "reminderMinutes": [10]})
        mine = new_event(api, "Mine", description="d", location="l", private=True,
                         attendees=[{"email": "a@example.com", "name": "A"}])
        api.put(f"/api/integrations/{integration}/settings", json={"settings": {"syncPrivateEvents": True}})
        theirs = cal.insert_event("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z")
        sync(api, integration)
        api.patch(f"/api/events/{mine['id']}", json={"title": "Mine 2"})
        cal.api("PATCH", f"/{theirs['id']}", json={"summary": "Theirs 2"})
        sync(api, integration)
        api.delete(f"/api/events/{mine['id']}")
        sync(api, integration)
        cal.control.post("/_control/expire-sync-tokens")
        sync(api, integration)
        entries = cal.control.get("/_control/calendar/log").json()["entries"]
    methods = {e["methodId"] for e in entries}
    assert {"calendar.events.list", "calendar.events.insert", "calendar.events.patch", "calendar.events.delete"} <= methods
    assert validate_log(entries) == []


def test_changing_the_filters_reconsiders_every_event(hub, cal):
    """Events unchanged since the last sync still move when the settings say so."""
    with hub.client("manager") as api:
        integration = connect_google(api, filters={"eventTypes": ["training"]})
        new_event(api, "A meeting", type="meeting")
        sync(api, integration)
        sync(api, integration)
        assert cal.events() == []
        api.put(f"/api/integrations/{integration}/settings", json={"settings": {"filters": {"eventTypes": []}}})
        assert sync(api, integration)["statistics"]["outbound"]["created"] == 1
        assert [e["summary"] for e in cal.events()] == ["A meeting"]




def test_a_create_that_landed_is_read_back_through_throttling(make_hub):
    """A batch whose answer never came back (the hub timed out) had landed: the retried
    create meets 409 and the event is read back — and that read, throttled, is retried
    like any call of the run instead of failing the event."""
    hub = make_hub({"AXHUB_PLUGINS": "google", "AXHUB_PROVIDER_TIMEOUT": "1"})
    cal = Calendar(hub)
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "Landed")
        # The batch hangs just past the hub's timeout, then is applied all the same; the
        # hub's retry (after its backoff) finds the event there already.
        cal.control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "POST",
                                                   "status": 0, "delay": 1.05, "count": 1})
        cal.control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events/", "method": "GET",
                                                   "status": 429, "headers": {"Retry-After": "0"}, "count": 1})
        run = sync(api, integration)
        counters = cal.stats()["counters"]
        assert counters.get("events.get", 0) >= 1, counters  # the read-back happened
        assert run["status"] == "completed", run["errors"]
        assert run["statistics"]["outbound"]["created"] == 1
        assert [e["summary"] for e in cal.events()] == ["Landed"]
        assert sync(api, integration)["statistics"]["eventsCreated"] == 0  # linked: nothing again


def test_a_read_back_throttled_to_the_end_keeps_the_throttling_code_and_links_next_time(make_hub):
    hub = make_hub({"AXHUB_PLUGINS": "google", "AXHUB_PROVIDER_TIMEOUT": "1"})
    cal = Calendar(hub)
    with hub.client("manager") as api:
        integration = connect_google(api)
        new_event(api, "Landed")
        cal.control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "POST",
                                                   "status": 0, "delay": 1.05, "count": 1})
        throttled = {"path": "/calendar/v3/calendars/primary/events/", "method": "GET", "status": 429,
                     "headers": {"Retry-After": "0.01"}, "count": 100}
        cal.control.post("/_control/faults", json=throttled)
        run = sync(api, integration)
        assert run["status"] == "partial"
        assert [(e["code"], e["action"]) for e in run["errors"]] == [("RATE_LIMIT_EXCEEDED", "create")], run["errors"]
        cal.control.delete("/_control/faults")
        again = sync(api, integration)
        assert again["status"] == "completed" and again["statistics"]["eventsCreated"] == 0
        assert [e["summary"] for e in cal.events()] == ["Landed"]


@pytest.mark.parametrize("reason, code", [("dailyLimitExceeded", "API_QUOTA_EXCEEDED"),
                                          ("userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"),
                                          ("insufficientPermissions", "PERMISSION_DENIED")])
def test_googles_403_reasons_keep_their_meaning(hub, reason, code):
    """A 403 is a spent quota, throttling or a missing permission by its reason."""
    body = {"error": {"code": 403, "message": reason, "errors": [{"domain": "usageLimits", "reason": reason,
                                                                    "message": reason}]}}
    with hub.client("manager") as api:
        integration = connect_google(api)
        with hub.sandbox("google") as sandbox:
            sandbox.post("/_control/faults", json={"path": "/calendar/v3", "status": 403, "body": body})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "unhealthy" and data["lastError"]["code"] == code, data
