"""Which window the calendarView delta lists: a run's dateRange, else syncWindow; and what
becomes of the delta cursor, which Graph binds to the window it was made for."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial

import pytest
from outlook import Outlook

from axhub.testing import connect_synced, run_sync
from axhub.testing.calendar import local_events

connect_outlook = partial(connect_synced, provider="microsoft")

Z = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture
def outlook(hub):
    return Outlook(hub)


def today() -> datetime:
    return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def deltas(outlook: Outlook) -> list[dict]:
    return [e for e in outlook.log() if "calendarView/delta" in e["path"]]


def titles(api) -> set[str]:
    total = api.get("/api/events", params={"limit": 1}).json()["meta"]["total"]
    return {e["title"] for page in range(1, total // 500 + 2)
            for e in api.get("/api/events", params={"limit": 500, "page": page}).json()["data"]}


def outside_listings(outlook: Outlook) -> list[dict]:
    return [e for e in outlook.log() if e["path"].endswith("/events") and "$filter" in e["query"]]


def test_a_run_without_a_range_lists_the_sync_window(hub, outlook):
    with hub.client("manager") as api:
        connect_outlook(api, syncWindow={"pastDays": 30, "futureDays": 60})
    [first] = deltas(outlook)
    assert (first["query"]["startDateTime"], first["query"]["endDateTime"]) == (
        (today() - timedelta(days=30)).strftime(Z), (today() + timedelta(days=60)).strftime(Z))
    assert len(outside_listings(outlook)) == 1  # a full listing of the default window looks outside it


def test_a_date_range_is_the_listed_window_and_the_stored_cursor_survives(hub, outlook):
    start, end = today() + timedelta(days=10), today() + timedelta(days=20)
    with hub.client("manager") as api:
        integration = connect_outlook(api)  # an empty calendar; its cursor is the default window's
        # 600 events inside the range (two pages of 500), one after it.
        outlook.control.post("/_control/outlook/seed", json={
            "count": 600, "start": (start + timedelta(hours=8)).strftime(Z), "every": 20, "prefix": "Inside"})
        outlook.create("Outside", (end + timedelta(days=5)).strftime(Z), (end + timedelta(days=5, hours=1)).strftime(Z))
        outlook.control.delete("/_control/outlook/log")

        date_range = {"start": start.isoformat(), "end": (end - timedelta(microseconds=500)).isoformat()}
        run = run_sync(api, integration, options={"dateRange": date_range})
        assert run["status"] == "completed", run.get("errors")
        # Listed from scratch over the range: the default window's deltaLink is not followed
        # (it would list another window), Graph's window parameters go on the first request
        # only, and the nextLink is followed as given.
        assert run["statistics"]["fullSync"] is True
        listed = deltas(outlook)
        assert (listed[0]["query"]["startDateTime"], listed[0]["query"]["endDateTime"]) == (start.strftime(Z), end.strftime(Z))
        assert [set(e["query"]) for e in listed[1:]] == [{"$skiptoken"}]
        assert not any("$deltatoken" in e["query"] for e in listed)
        assert outside_listings(outlook) == []  # a ranged run infers no deletion: nothing to look up outside
        listed_titles = titles(api)
        assert len(listed_titles) == 600 and "Outside" not in listed_titles

        # Another ranged run lists the range again: a range keeps no cursor of its own.
        outlook.control.delete("/_control/outlook/log")
        again = run_sync(api, integration, options={"dateRange": date_range})
        assert again["statistics"]["fullSync"] is True and again["statistics"]["eventsCreated"] == 0
        assert "startDateTime" in deltas(outlook)[0]["query"]

        # The next run over the default window follows the cursor stored before the ranged
        # runs: the changes since then, the event outside the range included.
        outlook.control.delete("/_control/outlook/log")
        default = run_sync(api, integration)
        assert default["statistics"]["fullSync"] is False
        [follow] = [e for e in deltas(outlook) if "$deltatoken" in e["query"]][:1]
        assert "startDateTime" not in follow["query"]
        assert default["statistics"]["inbound"]["created"] == 1
        assert "Outside" in titles(api)


def test_a_range_outside_the_sync_window_is_listed_too(hub, outlook):
    with hub.client("manager") as api:
        integration = connect_outlook(api, syncWindow={"pastDays": 0, "futureDays": 30})
        far = today() + timedelta(days=400)
        outlook.create("Far", (far + timedelta(hours=9)).strftime(Z), (far + timedelta(hours=10)).strftime(Z))
        run = run_sync(api, integration, options={"dateRange": {"start": far.isoformat(),
                                                                "end": (far + timedelta(days=1)).isoformat()}})
        assert run["statistics"]["inbound"]["created"] == 1
        assert [e["title"] for e in local_events(api)] == ["Far"]
        # The default window does not reach it: its cursor's round knows nothing of it.
        assert run_sync(api, integration)["statistics"]["eventsProcessed"] == 0
