"""The Outlook part of the Graph sandbox speaks Graph's protocol: what it refuses and how."""

from __future__ import annotations

import pytest
from outlook import Outlook, wall

from axhub.testing import connect_synced


@pytest.fixture
def outlook(hub):
    with hub.client("manager") as api:
        connect_synced(api, "microsoft")
    return Outlook(hub)


def event(subject="E", **extra):
    return {"subject": subject, "start": wall("2026-06-01T09:00:00Z", "Europe/Paris"),
            "end": wall("2026-06-01T10:00:00Z", "Europe/Paris"), **extra}


def test_batch_limits_and_framing(outlook):
    many = {"requests": [{"id": str(i), "method": "GET", "url": "/me/outlook/masterCategories"} for i in range(21)]}
    answer = outlook.call("POST", "/$batch", json=many)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadRequest"
    twice = {"requests": [{"id": "1", "method": "DELETE", "url": "/me/events/x"}] * 2}
    assert outlook.call("POST", "/$batch", json=twice).status_code == 400
    mixed = {"requests": [
        {"id": "a", "method": "POST", "url": "/me/calendar/events", "body": event()},  # no Content-Type
        {"id": "b", "method": "POST", "url": "/me/calendar/events", "headers": {"Content-Type": "application/json"},
         "body": event("B")},
        {"id": "c", "method": "DELETE", "url": "/me/events/AAMkNotThere"},
    ]}
    replies = {r["id"]: r for r in outlook.call("POST", "/$batch", json=mixed).json()["responses"]}
    assert replies["a"]["status"] == 400 and "Content-Type" in replies["a"]["body"]["error"]["message"]
    assert replies["b"]["status"] == 201 and replies["b"]["body"]["subject"] == "B"
    assert replies["c"]["status"] == 404 and replies["c"]["body"]["error"]["code"] == "ErrorItemNotFound"


def test_writes_take_only_what_graph_defines(outlook):
    unknown = outlook.call("POST", "/me/calendar/events", json=event(colour="red"))
    assert unknown.status_code == 400 and "does not exist on type 'microsoft.graph.event'" in unknown.json()["error"]["message"]
    offset = outlook.call("POST", "/me/calendar/events", json=event(start={"dateTime": "2026-06-01T09:00:00+02:00",
                                                                           "timeZone": "Europe/Paris"}))
    assert offset.status_code == 400
    zone = outlook.call("POST", "/me/calendar/events", json=event(start={"dateTime": "2026-06-01T09:00:00", "timeZone": "Mars/Olympus"}))
    assert zone.status_code == 400 and zone.json()["error"]["code"] == "TimeZoneNotSupportedException"
    assert outlook.call("POST", "/me/calendar/events", json=event(showAs="away")).status_code == 400


def test_transaction_id_makes_a_create_idempotent_and_times_follow_prefer(outlook):
    first = outlook.call("POST", "/me/calendar/events", json=event(transactionId="t-1")).json()
    again = outlook.call("POST", "/me/calendar/events", json=event(transactionId="t-1"),
                         headers={"Prefer": 'outlook.timezone="Europe/Paris"'})
    assert again.json()["id"] == first["id"] and len(outlook.events()) == 1
    assert first["start"] == {"dateTime": "2026-06-01T09:00:00.0000000", "timeZone": "UTC"}
    assert again.json()["start"]["dateTime"].startswith("2026-06-01T11:00:00")
    assert first["originalStartTimeZone"] == "Europe/Paris"
    assert outlook.call("PATCH", f"/me/events/{first['id']}", json={"transactionId": "t-2"}).status_code == 400


def test_delta_needs_a_window_pages_and_expires(outlook):
    missing = outlook.call("GET", "/me/calendar/calendarView/delta")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
    outlook.control.post("/_control/outlook/seed", json={"count": 25, "start": "2026-06-01T08:00:00Z"})
    window = {"startDateTime": "2026-05-01T00:00:00Z", "endDateTime": "2026-07-01T00:00:00Z"}
    page = outlook.call("GET", "/me/calendar/calendarView/delta", params=window)
    assert len(page.json()["value"]) == 10  # Graph's default page
    page = outlook.call("GET", "/me/calendar/calendarView/delta", params=window, headers={"Prefer": "odata.maxpagesize=20"})
    assert page.headers["preference-applied"] == "odata.maxpagesize=20" and len(page.json()["value"]) == 20
    link = page.json()["@odata.nextLink"]
    last = outlook.call("GET", link[link.index("/me/"):]).json()
    assert len(last["value"]) == 5 and "@odata.deltaLink" in last
    delta = last["@odata.deltaLink"][last["@odata.deltaLink"].index("/me/"):]
    assert outlook.call("GET", delta).json()["value"] == []
    # The tokens encode the window: it is given on the first request only.
    for token_link in (link, delta):
        again = outlook.call("GET", token_link[token_link.index("/me/"):] + "&startDateTime=2026-06-01T00:00:00Z")
        assert again.status_code == 400 and again.json()["error"]["code"] == "ErrorInvalidUrlQuery"
    outlook.expire_cursor()
    gone = outlook.call("GET", delta)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "syncStateNotFound"
