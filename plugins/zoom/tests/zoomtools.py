"""Helpers for the Zoom meeting tests: connect, create events, read the sandbox's
meetings, play a meeting, and hear the hub's notifications."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from axhub.testing import connect
from axhub.testing import wait_for_sync as wait


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def connect_zoom(api: httpx.Client, **settings: Any) -> str:
    """Connect with these settings and let the initial sync finish."""
    data = connect(api, "zoom", settings=settings)
    if data.get("initialSync", {}).get("syncId"):  # a provider that syncs: its first run
        wait(api, data["integrationId"], data["initialSync"]["syncId"])
    return data["integrationId"]


def create_event(api: httpx.Client, start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
    body = {"title": "Weekly review", "start": iso(start), "end": iso(end), "timezone": "Europe/Paris", **fields}
    response = api.post("/api/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def event(api: httpx.Client, event_id: str) -> dict[str, Any]:
    response = api.get(f"/api/events/{event_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def attendance(api: httpx.Client, event_id: str) -> dict[str, dict[str, Any]]:
    data = api.get(f"/api/events/{event_id}/attendance").json()["data"]
    return {r["email"]: r for r in data["records"]}


def finish(api: httpx.Client, event_id: str) -> None:
    """The event is over: its end moves to a second ago (as when it finishes early)."""
    over = datetime.now(timezone.utc) - timedelta(seconds=1)
    response = api.patch(f"/api/events/{event_id}", json={"end": iso(over)})
    assert response.status_code == 200, response.text


class Zoom:
    """The Zoom sandbox, through its control routes."""

    def __init__(self, hub) -> None:
        self.control = hub.sandbox("zoom")

    def meetings(self) -> dict[int, dict[str, Any]]:
        # httpx decodes JSON numbers as Python ints: 64-bit ids stay exact.
        return {m["id"]: m for m in self.control.get("/_control/meetings").json()["meetings"]}

    def calls(self) -> dict[str, list[str]]:
        return self.control.get("/_control/meetings").json()["calls"]

    def play(self, meeting_id: str | int, participants: list[dict[str, Any]], report_delay: float = 0) -> None:
        response = self.control.post(f"/_control/meetings/{meeting_id}/play",
                                     json={"participants": participants, "reportDelay": report_delay})
        assert response.status_code == 200, response.text

    def advance(self, seconds: float) -> None:
        self.control.post("/_control/clock", json={"advance": seconds})

    def rate_limit(self, **config: Any) -> None:
        self.control.post("/_control/rate-limit", json=config)

    def fault(self, **rule: Any) -> None:
        self.control.post("/_control/faults", json=rule)


def session(start: datetime, join_min: float, leave_min: float, **extra: Any) -> dict[str, Any]:
    return {"join": iso(start + timedelta(minutes=join_min)), "leave": iso(start + timedelta(minutes=leave_min)), **extra}
