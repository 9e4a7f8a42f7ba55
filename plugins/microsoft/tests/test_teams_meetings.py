"""Teams meetings for the events the hub writes to Outlook: the join URL Graph gives the
event lands on the Attendance-X event, and defaultMeetingSettings on the meeting itself."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from csdl import load, problems
from outlook import Outlook

from axhub.testing import connect_synced, run_connection_test, run_sync
from axhub.testing.calendar import new_event

CALENDAR = ["calendar.read", "calendar.write", "events.manage"]
MEETINGS = [*CALENDAR, "meetings.create"]


def soon(days: int = 3, hours: int = 1) -> tuple[str, str]:
    start = (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def teams(auto: bool = True, **defaults) -> dict:
    return {"teamsIntegration": {"enabled": True, "autoCreateMeetings": auto,
                                 **({"defaultMeetingSettings": defaults} if defaults else {})}}


@pytest.fixture
def outlook(hub):
    return Outlook(hub)


def meetings(outlook: Outlook) -> list[dict]:
    return outlook.control.get("/_control/teams/meetings").json()["value"]


def test_a_new_event_becomes_a_teams_meeting_with_the_default_settings(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": MEETINGS},
                                     **teams(allowAnonymous=True, recordAutomatically=True, allowTranscription=False))
        start, end = soon()
        event = new_event(api, "Formation Teams", start=start, end=end)
        run = run_sync(api, integration)
        assert run["status"] == "completed", run
        shown = api.get(f"/api/events/{event['id']}").json()["data"]
        listed = {e["id"]: e for e in api.get("/api/events").json()["data"]}[event["id"]]
    [remote] = outlook.events()
    assert remote["isOnlineMeeting"] is True and remote["onlineMeetingProvider"] == "teamsForBusiness"
    join = remote["onlineMeeting"]["joinUrl"]
    assert join.startswith("https://teams.microsoft.com/l/meetup-join/")
    [meeting] = meetings(outlook)
    assert shown["meeting"] == listed["meeting"] == {
        "provider": "microsoft", "onlineMeetingProvider": "teamsForBusiness", "id": meeting["id"], "joinUrl": join,
        "conferenceId": remote["onlineMeeting"]["conferenceId"], "optionsApplied": True}
    assert meeting["lobbyBypassSettings"] == {"scope": "everyone", "isDialInBypassEnabled": True}
    assert (meeting["recordAutomatically"], meeting["allowTranscription"]) == (True, False)
    # What went to Graph: the event asked for a meeting; the meeting was found by its join URL.
    log = outlook.log()
    [create] = [e for e in log if e["method"] == "POST" and e["path"].endswith("/events")]
    assert (create["body"]["isOnlineMeeting"], create["body"]["onlineMeetingProvider"]) == (True, "teamsForBusiness")
    [lookup] = [e for e in log if e["path"] == "/me/onlineMeetings"]
    assert lookup["query"]["$filter"] == f"JoinWebUrl eq '{join}'"
    model = load()
    found = []
    for e in log:
        if e["path"].startswith("/me/onlineMeetings"):
            if e["body"] is not None:
                found += problems(model, e["body"], "graph.onlineMeeting", f"{e['method']} {e['path']} body")
            for item in e["response"].get("value", [e["response"]]):
                found += problems(model, item, "graph.onlineMeeting", f"{e['method']} {e['path']} answer")
        elif e["path"].endswith("/events") and e["method"] == "POST":
            found += problems(model, e["response"], "graph.event", "POST event answer")
    assert found == []


def test_the_meeting_follows_its_event_and_edits_keep_it(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": MEETINGS}, **teams())
        start, end = soon()
        event = new_event(api, "Atelier", start=start, end=end)
        run_sync(api, integration)
        before = api.get(f"/api/events/{event['id']}").json()["data"]["meeting"]
        api.patch(f"/api/events/{event['id']}", json={"title": "Atelier (salle 3)"}).raise_for_status()
        run_sync(api, integration)
        after = api.get(f"/api/events/{event['id']}").json()["data"]["meeting"]
        assert after == before and before["joinUrl"]
        [remote] = outlook.events()
        assert remote["subject"] == "Atelier (salle 3)" and remote["onlineMeeting"]["joinUrl"] == before["joinUrl"]
        assert len(meetings(outlook)) == 1
        # The default settings are Teams' own (lobby for outsiders, transcription on).
        assert meetings(outlook)[0]["lobbyBypassSettings"]["scope"] == "organization"
        api.delete(f"/api/events/{event['id']}").raise_for_status()
        run_sync(api, integration)
    assert outlook.events() == [] and meetings(outlook) == []


def test_without_online_meetings_permission_the_meeting_is_made_but_its_options_are_not(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": CALENDAR}, **teams(recordAutomatically=True))
        start, end = soon()
        event = new_event(api, "Sans options", start=start, end=end)
        assert run_sync(api, integration)["status"] == "completed"
        meeting = api.get(f"/api/events/{event['id']}").json()["data"]["meeting"]
        report = run_connection_test(api, integration)
    assert meeting["joinUrl"] and meeting["optionsApplied"] is False and meeting["id"] is None
    assert meetings(outlook)[0]["recordAutomatically"] is False
    assert any("meetings.create" in r for r in report["recommendations"])


def test_throttled_meeting_calls_are_retried(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": MEETINGS}, **teams(recordAutomatically=True))
        outlook.control.post("/_control/faults", json={"path": "/v1.0/me/onlineMeetings", "status": 429, "count": 2,
                                                        "headers": {"Retry-After": "0.05"}})
        start, end = soon()
        event = new_event(api, "Throttled", start=start, end=end)
        run_sync(api, integration)
        meeting = api.get(f"/api/events/{event['id']}").json()["data"]["meeting"]
    assert meeting["optionsApplied"] is True and meetings(outlook)[0]["recordAutomatically"] is True
    statuses = [e["status"] for e in outlook.log() if e["path"].startswith("/me/onlineMeetings")]
    assert statuses.count(429) == 2


@pytest.mark.parametrize("case", ["disabled", "not-automatic", "past", "personal-account"])
def test_no_meeting_when_none_is_asked_or_possible(hub, outlook, case):
    settings = {"disabled": {}, "not-automatic": teams(auto=False)}.get(case, teams())
    if case == "personal-account":
        outlook.control.post("/_control/graph", json={"onlineMeetingProviders": []})
    start, end = soon(days=-3) if case == "past" else soon()
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": MEETINGS}, **settings)
        event = new_event(api, "Plain", start=start, end=end)
        assert run_sync(api, integration)["status"] == "completed"
        shown = api.get(f"/api/events/{event['id']}").json()["data"]
    [remote] = outlook.events()
    assert shown["meeting"] is None and remote["isOnlineMeeting"] is False and remote["onlineMeeting"] is None
    [create] = [e for e in outlook.log() if e["method"] == "POST" and e["path"].endswith("/events")]
    assert ("isOnlineMeeting" in create["body"]) == (case == "personal-account")


def test_the_sandbox_answers_online_meetings_like_graph(hub, outlook):
    with hub.client("manager") as api:
        connect_synced(api, "microsoft", body={"scopes": MEETINGS})
    start, end = soon()
    made = outlook.create("Direct", start, end, isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    join = made["onlineMeeting"]["joinUrl"]
    assert made["onlineMeetingUrl"] is None  # Skype's field: Teams links are in onlineMeeting
    assert outlook.call("GET", "/me/onlineMeetings").json()["error"]["code"] == "InvalidArgument"
    [meeting] = outlook.call("GET", "/me/onlineMeetings", params={"$filter": f"JoinWebUrl eq '{join}'"}).json()["value"]
    assert meeting["joinWebUrl"] == join
    bad = outlook.call("PATCH", f"/me/onlineMeetings/{meeting['id']}", json={"lobbyBypassSettings": {"scope": "anyone"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"
    computed = outlook.call("PATCH", f"/me/onlineMeetings/{meeting['id']}", json={"joinWebUrl": "https://x"})
    assert computed.status_code == 400
    good = outlook.call("PATCH", f"/me/onlineMeetings/{meeting['id']}", json={"allowedPresenters": "organizer"})
    assert good.status_code == 200 and good.json()["allowedPresenters"] == "organizer"
    assert outlook.call("GET", "/me/onlineMeetings/nope").status_code == 404
    # Once online, always online: Outlook ignores isOnlineMeeting: false afterwards.
    later = outlook.call("PATCH", f"/me/events/{made['id']}", json={"isOnlineMeeting": False}).json()
    assert later["isOnlineMeeting"] is True and later["onlineMeeting"]["joinUrl"] == join


def test_the_join_information_exchange_adds_to_the_body_is_not_synced_back(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": MEETINGS}, **teams())
        start, end = soon()
        event = new_event(api, "Avec description", start=start, end=end, description="Apportez un ordinateur\net un café")
        run_sync(api, integration)
        [remote] = outlook.events()
        assert remote["body"]["contentType"] == "html" and "Microsoft Teams meeting" in remote["body"]["content"]
        again = run_sync(api, integration, options={"forceUpdate": True})
        shown = api.get(f"/api/events/{event['id']}").json()["data"]
    assert shown["description"] == "Apportez un ordinateur\net un café"
    assert again["statistics"]["inbound"]["updated"] == 0 and again["statistics"]["outbound"]["updated"] == 0, again
