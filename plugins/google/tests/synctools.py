"""Helpers for the Google sync tests: drive syncs through the API, touch the calendar
through the sandbox's own Calendar API, as a user editing in Google would."""

from __future__ import annotations

from functools import partial

import httpx

from axhub.testing import FINISHED, connect_synced, run_sync, wait_for_sync

__all__ = ["FINISHED", "Calendar", "connect_google", "sync", "wait"]

wait = wait_for_sync
sync = run_sync
connect_google = partial(connect_synced, provider="google")


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

    def insert_event(self, summary: str, start: str, end: str, **extra) -> dict:
        response = self.api("POST", json={"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def insert(self, title: str, start: str, end: str) -> str:
        return self.insert_event(title, start, end)["id"]

    def events(self, include_cancelled: bool = False) -> list[dict]:
        items = self.control.get("/_control/calendar/events").json()["items"]
        return [e for e in items if include_cancelled or e.get("status") != "cancelled"]

    def stats(self) -> dict:
        return self.control.get("/_control/stats").json()

    # -- axhub.testing.calendar.RemoteCalendar ---------------------------------------------
    def rename(self, event_id: str, title: str) -> None:
        assert self.api("PATCH", f"/{event_id}", json={"summary": title}).status_code == 200

    def remove(self, event_id: str) -> None:
        assert self.api("DELETE", f"/{event_id}").status_code == 204

    def titles(self) -> dict[str, str]:
        return {e["id"]: e["summary"] for e in self.events()}

    def expire_cursor(self) -> None:
        self.control.post("/_control/expire-sync-tokens")

    def writes(self) -> int:
        counters = self.stats()["counters"]
        return sum(v for k, v in counters.items() if k in ("events.insert", "events.patch", "events.update", "events.delete"))

    def trouble(self, on: bool) -> None:
        if on:
            self.control.post("/_control/chaos", json={"rate": 0.15, "statuses": [429, 500, 503], "seed": 7})
        else:
            self.control.delete("/_control/chaos")
