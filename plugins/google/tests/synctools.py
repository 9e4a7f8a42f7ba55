"""Helpers for the Google sync tests: drive syncs through the API, touch the calendar
through the sandbox's own Calendar API, as a user editing in Google would."""

from __future__ import annotations

import time

import httpx

from axhub.testing import connect

FINISHED = ("completed", "partial", "failed")


def wait(api: httpx.Client, integration: str, sync_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]
        if data["status"] in FINISHED:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"sync {sync_id} still {data['status']} after {timeout}s")
        time.sleep(0.05)


def sync(api: httpx.Client, integration: str, **body) -> dict:
    response = api.post(f"/api/integrations/{integration}/sync", json=body)
    assert response.status_code == 202, response.text
    return wait(api, integration, response.json()["data"]["syncId"])


def connect_google(api: httpx.Client, **settings) -> str:
    """Connect and let the initial sync finish."""
    data = connect(api, "google", settings=settings)
    if data.get("initialSync"):
        wait(api, data["integrationId"], data["initialSync"]["syncId"])
    return data["integrationId"]


class Calendar:
    """The sandbox calendar, through Google's own API and the sandbox's control routes."""

    def __init__(self, hub) -> None:
        self.control = hub.sandbox("google")
        self.base = f"{hub.services.hub.sandbox_base}/google/calendar/v3/calendars/primary/events"

    def _token(self) -> str:
        return self.control.get("/_control/tokens").json()["accessTokens"][-1]

    def api(self, method: str, path: str = "", **kwargs) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {self._token()}"},
                             timeout=30, **kwargs)

    def insert(self, summary: str, start: str, end: str, **extra) -> dict:
        response = self.api("POST", json={"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, include_cancelled: bool = False) -> list[dict]:
        items = self.control.get("/_control/calendar/events").json()["items"]
        return [e for e in items if include_cancelled or e.get("status") != "cancelled"]

    def stats(self) -> dict:
        return self.control.get("/_control/stats").json()
