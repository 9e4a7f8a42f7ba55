"""What the adapter sends and what the sandbox answers, checked against Graph's CSDL."""

from __future__ import annotations

import pytest
from csdl import EXTRACT, SHARED, extract, load, problems
from outlook import Outlook

from axhub.testing import connect_synced, run_sync
from axhub.testing.calendar import new_event


def test_the_checker_finds_what_graph_would_refuse():
    model = load()
    bad = {"subject": "x", "colour": "red", "showAs": "away", "start": {"dateTime": "2026-01-01T09:00:00", "zone": "UTC"},
           "attendees": [{"emailAddress": {"address": 7}}]}
    assert sorted(p.split(":")[0] for p in problems(model, bad, "graph.event")) == [
        ".attendees[0].emailAddress.address", ".colour", ".showAs", ".start.zone"]


@pytest.mark.skipif(not SHARED.exists(), reason="the shared provider specs are not in this clone")
def test_the_extract_is_the_shared_csdl():
    assert extract(SHARED) == load(), f"regenerate {EXTRACT.name} from {SHARED}"


def test_every_event_we_send_and_every_answer_is_graphs_shape(hub):
    outlook = Outlook(hub)
    model = load()
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"scopes": ["calendar.read", "calendar.write", "events.manage",
                                                                        "calendar.categories"]},
                                     outlookSettings={"categoryColor": "teal", "importance": "low", "showAs": "oof"})
        mine = new_event(api, "Mine", description="d", location="l", private=True, timezone="America/New_York",
                         attendees=[{"email": "a@example.com", "name": "A"}, {"email": "b@example.com"}])
        theirs = outlook.create("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z")
        run_sync(api, integration)
        api.patch(f"/api/events/{mine['id']}", json={"title": "Mine 2", "location": None})
        outlook.rename(theirs["id"], "Theirs 2")
        run_sync(api, integration)
        api.delete(f"/api/events/{mine['id']}")
        run_sync(api, integration)
        outlook.expire_cursor()
        run_sync(api, integration)
        api.delete(f"/api/integrations/{integration}")
    entries = outlook.log()
    calls = {(e["method"], e["path"]) for e in entries}
    assert {("POST", "/me/calendar/events"), ("GET", "/me/calendar/calendarView/delta"), ("GET", "/me/calendar/events"),
            ("POST", "/me/outlook/masterCategories")} <= calls
    assert {m for m, p in calls if p.startswith("/me/events/")} == {"PATCH", "DELETE"}
    found = []
    for e in entries:
        where = f"{e['method']} {e['path']}"
        if e["path"].endswith("masterCategories"):
            if e["method"] == "POST":
                found += problems(model, e["body"], "graph.outlookCategory", f"{where} body")
            for item in (e["response"] or {}).get("value", [e["response"]]):
                found += problems(model, item, "graph.outlookCategory", f"{where} answer")
            continue
        if e["body"] is not None:
            found += problems(model, e["body"], "graph.event", f"{where} body")
        answer = e["response"] or {}
        if e["status"] < 300:
            for item in answer.get("value", [answer] if "id" in answer else []):
                found += problems(model, item, "graph.event", f"{where} answer")
    assert found == []
