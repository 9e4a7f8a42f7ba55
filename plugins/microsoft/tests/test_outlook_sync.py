"""Two-way sync with an Outlook calendar, through the hub's API and the sandbox's Graph."""

from __future__ import annotations

from functools import partial

import pytest
from outlook import Outlook

from axhub.testing import connect_synced, run_sync
from axhub.testing.calendar import CalendarConformance, local_events, new_event

connect_outlook = partial(connect_synced, provider="microsoft")


@pytest.fixture
def outlook(hub):
    return Outlook(hub)


class TestConformance(CalendarConformance):
    provider = "microsoft"
    list_path = "/v1.0/me/calendar/calendarView/delta"

    def remote(self, hub):
        return Outlook(hub)

    def check_cleanup(self, cleanup):
        assert cleanup["tokensRevoked"] is False
        assert any("no endpoint to revoke a single refresh token" in note for note in cleanup["notes"])


def test_an_expired_delta_token_is_graphs_410_sync_state_not_found(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        run_sync(api, integration)
        outlook.expire_cursor()
        assert run_sync(api, integration)["statistics"]["fullSync"] is True
    assert any(e["status"] == 410 and e["response"]["error"]["code"] == "syncStateNotFound" for e in outlook.log())


def test_full_sync_pages_through_delta_then_follows_the_delta_link(hub, outlook):
    outlook.control.post("/_control/outlook/seed", json={"count": 1200, "start": "2026-02-02T08:00:00Z", "every": 30})
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        assert api.get("/api/events", params={"limit": 1}).json()["meta"]["total"] == 1200
        first = [e for e in outlook.log() if "calendarView/delta" in e["path"]]
        # The window on the first request, then nextLinks ($skiptoken) to the deltaLink.
        assert {"startDateTime", "endDateTime"} <= set(first[0]["query"])
        assert [bool(e["response"].get("@odata.nextLink")) for e in first] == [True, True, False]
        assert all(len(e["response"]["value"]) <= 500 for e in first)
        event = outlook.events()[5]
        outlook.rename(event["id"], "Moved in Outlook")
        outlook.remove(outlook.events()[7]["id"])
        run = run_sync(api, integration)
        assert run["statistics"]["listRequests"] == 1 and run["statistics"]["fullSync"] is False
        assert (run["statistics"]["inbound"]["updated"], run["statistics"]["inbound"]["deleted"]) == (1, 1)
        latest = [e for e in outlook.log() if "calendarView/delta" in e["path"]][-1]
        assert "$deltatoken" in latest["query"]
        removed = [i for i in latest["response"]["value"] if "@removed" in i]
        assert removed and removed[0]["@removed"] == {"reason": "deleted"}
        assert api.get("/api/events", params={"limit": 1}).json()["meta"]["total"] == 1199


def test_local_events_go_out_in_batches_of_twenty_with_the_outlook_settings(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api, outlookSettings={"categoryColor": "blue", "importance": "high", "showAs": "tentative"})
        for i in range(45):
            new_event(api, f"Training {i:02d}", start=f"2026-07-01T{i % 24:02d}:00:00+02:00",
                      end=f"2026-07-01T{i % 24:02d}:45:00+02:00", timezone="Europe/Paris",
                      description="Bring a laptop", location="Room 2", private=i == 0,
                      attendees=[{"email": "Paul@TechCorp.com", "name": "Paul"}])
        run = run_sync(api, integration)
        assert run["statistics"]["outbound"]["created"] == 45
        batches = [e for e in outlook.log() if e["path"] == "/me/calendar/events" and e["method"] == "POST"]
        assert len(batches) == 45
        counters = outlook.counters()
        assert counters["graph.batch"] == 3  # 20 + 20 + 5
        remote = {e["subject"]: e for e in outlook.events()}
        first = remote["Training 00"]
        assert first["originalStartTimeZone"] == "Europe/Paris"
        assert first["start"] == {"dateTime": "2026-06-30T22:00:00.0000000", "timeZone": "UTC"}
        sent = batches[0]["body"] if batches[0]["body"]["subject"] == "Training 00" else \
            next(b["body"] for b in batches if b["body"]["subject"] == "Training 00")
        assert sent["start"] == {"dateTime": "2026-07-01T00:00:00", "timeZone": "Europe/Paris"}
        assert (first["importance"], first["showAs"], first["sensitivity"]) == ("high", "tentative", "private")
        assert first["categories"] == ["Attendance-X"]
        assert first["transactionId"].startswith("axhub:")
        assert first["body"]["content"] == "Bring a laptop" and first["location"]["displayName"] == "Room 2"
        assert [a["emailAddress"]["address"] for a in first["attendees"]] == ["paul@techcorp.com"]
        # Without MailboxSettings.ReadWrite the category is not in the master list: the
        # events carry it all the same, and the connection test says what to grant.
        assert outlook.control.get("/_control/outlook/categories").json()["value"] == []
        notes = api.post(f"/api/integrations/{integration}/test").json()["data"]["recommendations"]
        assert any("calendar.categories" in n for n in notes)
        again = run_sync(api, integration)["statistics"]
        assert (again["eventsCreated"], again["eventsUpdated"], again["eventsDeleted"]) == (0, 0, 0)


def test_the_category_is_created_with_its_colour_when_the_scope_is_granted(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api, body={"scopes": ["calendar.read", "calendar.write", "events.manage",
                                                            "calendar.categories"]},
                                      outlookSettings={"categoryColor": "darkGreen"})
        new_event(api, "Coloured")
        run_sync(api, integration)
        run_sync(api, integration)
        categories = outlook.control.get("/_control/outlook/categories").json()["value"]
        assert [(c["displayName"], c["color"]) for c in categories] == [("Attendance-X", "preset19")]


def test_throttled_batch_requests_wait_the_fractional_retry_after(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        for i in range(30):
            new_event(api, f"E{i:02d}", start=f"2026-07-02T{i % 24:02d}:00:00Z", end=f"2026-07-02T{i % 24:02d}:30:00Z")
        outlook.control.post("/_control/graph", json={"throttle": {"limit": 12, "windowSeconds": 0.6}})
        run = run_sync(api, integration)
        outlook.control.post("/_control/graph", json={"throttle": None})
        assert run["status"] == "completed", run.get("errors")
        throttled = [e for e in outlook.log() if e["status"] == 429]
        assert throttled, "the limit was never reached"
        assert sorted(e["subject"] for e in outlook.events()) == sorted(f"E{i:02d}" for i in range(30))
        counters = outlook.counters()
        assert counters["graph.events.create"] == 30 + len([e for e in throttled if e["method"] == "POST"])
        # Every throttled request went again only once its (fractional) Retry-After had passed.
        assert counters.get("graph.throttle.early", 0) == 0
        assert all("." in e["headers"]["Retry-After"] for e in throttled)


def test_a_500_in_the_middle_of_the_listing_is_retried_and_nothing_is_duplicated(hub, outlook):
    outlook.control.post("/_control/outlook/seed", json={"count": 1100, "start": "2026-02-02T08:00:00Z", "every": 30})
    outlook.control.post("/_control/faults", json={"path": "/v1.0/me/calendar/calendarView/delta", "status": 500,
                                                   "after": 1, "count": 1})
    with hub.client("manager") as api:
        connect_outlook(api)
        assert api.get("/api/events", params={"limit": 1}).json()["meta"]["total"] == 1100
        titles = [e["title"] for e in api.get("/api/events", params={"limit": 100, "page": 2}).json()["data"]]
        assert len(set(titles)) == 100
    statuses = [e["status"] for e in outlook.log() if "calendarView/delta" in e["path"]]
    assert statuses == [200, 500, 200, 200]


def test_remote_changes_in_another_zone_come_in_as_utc_instants(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        # Outlook users' events often carry Windows zone names.
        outlook.create("Tokyo call", {"dateTime": "2026-06-03T10:00:00", "timeZone": "Tokyo Standard Time"},
                       {"dateTime": "2026-06-03T11:00:00", "timeZone": "Tokyo Standard Time"},
                       body={"contentType": "html", "content": "<p>Agenda &amp; notes</p>"},
                       location={"displayName": "Online"},
                       attendees=[{"emailAddress": {"address": "Ann@Example.com", "name": "Ann"}, "type": "required"}])
        run_sync(api, integration)
        [event] = local_events(api)
        assert (event["start"], event["end"], event["timezone"]) == ("2026-06-03T01:00:00Z", "2026-06-03T02:00:00Z", "Asia/Tokyo")
        assert event["description"] == "Agenda & notes" and event["location"] == "Online"
        assert event["attendees"] == [{"email": "ann@example.com", "name": "Ann", "role": "attendee"}]
        assert event["source"] == "microsoft"


def test_events_outside_the_window_are_not_taken_for_deleted(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api, syncWindow={"pastDays": 30, "futureDays": 60})
        far = new_event(api, "Far ahead", start="2031-01-10T09:00:00Z", end="2031-01-10T10:00:00Z")
        run_sync(api, integration)
        assert [e["subject"] for e in outlook.events()] == ["Far ahead"]
        outlook.expire_cursor()
        run = run_sync(api, integration)
        assert run["statistics"]["fullSync"] is True and run["statistics"]["eventsDeleted"] == 0
        assert [e["title"] for e in local_events(api)] == ["Far ahead"]
        api.patch(f"/api/events/{far['id']}", json={"title": "Far ahead, renamed"})
        run_sync(api, integration)
        assert [e["subject"] for e in outlook.events()] == ["Far ahead, renamed"]


def test_changing_the_window_starts_a_full_listing(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        api.put(f"/api/integrations/{integration}/settings", json={"settings": {"syncWindow": {"pastDays": 10, "futureDays": 900}}})
        run = run_sync(api, integration)
        assert run["statistics"]["fullSync"] is True
        assert run_sync(api, integration)["statistics"]["fullSync"] is False


@pytest.mark.parametrize("settings,field", [
    ({"outlookSettings": {"categoryColor": "mauve"}}, "outlookSettings.categoryColor"),
    ({"outlookSettings": {"importance": "urgent"}}, "outlookSettings.importance"),
    ({"outlookSettings": {"showAs": "away"}}, "outlookSettings.showAs"),
    ({"syncWindow": {"pastDays": -1}}, "syncWindow.pastDays"),
    ({"syncWindow": {"futureDays": 0}}, "syncWindow.futureDays"),
    ({"calendarId": "a b"}, "calendarId"),
])
def test_bad_settings_are_400_naming_the_field(hub, settings, field):
    with hub.client("manager") as api:
        integration = connect_outlook(api)
        response = api.put(f"/api/integrations/{integration}/settings", json={"settings": settings})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR" and response.json()["error"]["field"] == f"settings.{field}"
