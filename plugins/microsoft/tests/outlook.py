"""The sandbox's Outlook calendar as its user sees it, through Graph itself (an
``axhub.testing.calendar.RemoteCalendar``), and its control routes."""

from __future__ import annotations

from datetime import datetime

import httpx


def wall(instant: str, tz: str = "UTC") -> dict[str, str]:
    """An RFC 3339 instant as Graph's dateTimeTimeZone in ``tz``."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    return {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": tz}


class Outlook:
    def __init__(self, hub) -> None:
        self.control = hub.sandbox("microsoft")
        self.graph = f"{hub.services.hub.sandbox_base}/microsoft/v1.0"

    def call(self, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        token = self.control.get("/_control/tokens").json()["accessTokens"][-1]
        return httpx.request(method, self.graph + path, headers={"Authorization": f"Bearer {token}", **(headers or {})},
                             timeout=30, **kwargs)

    def create(self, subject: str, start: str | dict, end: str | dict, **extra) -> dict:
        """An event from RFC 3339 instants (written in UTC) or Graph's own dateTimeTimeZone."""
        response = self.call("POST", "/me/calendar/events", json={
            "subject": subject, **{k: v if isinstance(v, dict) else wall(v) for k, v in (("start", start), ("end", end))},
            **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def events(self) -> list[dict]:
        return self.control.get("/_control/outlook/events").json()["value"]

    def log(self) -> list[dict]:
        return self.control.get("/_control/outlook/log").json()["entries"]

    def counters(self) -> dict[str, int]:
        return self.control.get("/_control/stats").json()["counters"]

    # -- axhub.testing.calendar.RemoteCalendar -----------------------------------------
    def insert(self, title: str, start: str, end: str) -> str:
        return self.create(title, start, end)["id"]

    def rename(self, event_id: str, title: str) -> None:
        assert self.call("PATCH", f"/me/events/{event_id}", json={"subject": title}).status_code == 200

    def remove(self, event_id: str) -> None:
        assert self.call("DELETE", f"/me/events/{event_id}").status_code == 204

    def titles(self) -> dict[str, str]:
        return {e["id"]: e["subject"] for e in self.events()}

    def expire_cursor(self) -> None:
        self.control.post("/_control/outlook/expire-delta-tokens")

    def writes(self) -> int:
        counters = self.counters()
        return sum(counters.get(f"graph.events.{k}", 0) for k in ("create", "update", "delete"))

    def trouble(self, on: bool) -> None:
        """Faults on the next calls: a throttled delta page and a failing batch round trip."""
        if on:
            self.control.post("/_control/faults", json={"path": "/v1.0/me/calendar", "status": 429, "count": 2,
                                                         "headers": {"Retry-After": "0.05"}})
            self.control.post("/_control/faults", json={"path": "/v1.0/me/events", "status": 503, "count": 2})
        else:
            self.control.delete("/_control/faults")

