"""The Zoom sandbox's meetings and reports speak Zoom's shapes (what the plugin relies on)."""

from datetime import timedelta

import httpx
import pytest

from axhub.testing import connect

from zoomtools import Zoom, iso, now, session


@pytest.fixture
def zoom_api(hub):
    """An httpx client on the sandbox's /v2 with a token the hub obtained."""
    with hub.client("manager") as api:
        connect(api, "zoom")
    zoom = Zoom(hub)
    token = zoom.control.get("/_control/tokens").json()["accessTokens"][-1]
    with httpx.Client(base_url=f"{hub.services.hub.sandbox_base}/zoom/v2", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, zoom


def test_meeting_lifecycle_and_errors(zoom_api):
    api, _ = zoom_api
    start = now() + timedelta(days=1)
    created = api.post("/users/me/meetings", json={"topic": "Review", "type": 2, "start_time": iso(start),
                                                   "duration": 30, "password": "abc123"})
    assert created.status_code == 201 and isinstance(created.json()["id"], int)
    meeting_id = created.json()["id"]
    assert created.headers["X-RateLimit-Type"] == "QPS"
    assert api.patch(f"/meetings/{meeting_id}", json={"topic": "Renamed"}).status_code == 204
    assert api.get(f"/meetings/{meeting_id}").json()["topic"] == "Renamed"
    assert api.delete(f"/meetings/{meeting_id}").status_code == 204
    gone = api.get(f"/meetings/{meeting_id}")
    assert gone.status_code == 404 and gone.json() == {"code": 3001, "message": f"Meeting does not exist: {meeting_id}."}
    bad = api.post("/users/me/meetings", json={"topic": "x", "type": 2, "start_time": iso(start), "password": "far-too-long-1"})
    assert bad.status_code == 400 and bad.json()["code"] == 300 and bad.json()["errors"][0]["field"] == "password"
    unauthenticated = httpx.get(f"{api.base_url}/meetings/{meeting_id}")
    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == 124


def test_report_pages_and_delay(zoom_api):
    api, zoom = zoom_api
    start = now() - timedelta(hours=1)
    meeting_id = api.post("/users/me/meetings", json={"type": 2, "start_time": iso(start), "duration": 60}).json()["id"]
    path = f"/report/meetings/{meeting_id}/participants"
    assert api.get(path).json()["code"] == 3001  # not held yet
    zoom.play(meeting_id, [{"name": f"P{i}", "email": f"p{i}@example.org", "sessions": [session(start, 0, 10), session(start, 20, 30)]}
                           for i in range(200)], report_delay=600)
    assert api.get(path, params={"page_size": 300}).status_code == 404  # ended, report not ready
    zoom.advance(601)
    assert api.get(path, params={"page_size": 301}).status_code == 400
    first = api.get(path, params={"page_size": 300}).json()
    assert first["total_records"] == 400 and len(first["participants"]) == 300 and first["next_page_token"]
    record = first["participants"][0]
    assert {"id", "user_id", "name", "user_email", "join_time", "leave_time", "duration", "status"} <= set(record)
    second = api.get(path, params={"page_size": 300, "next_page_token": first["next_page_token"]}).json()
    assert len(second["participants"]) == 100 and second["next_page_token"] == ""
    # Rejoins are separate records of the same participant id.
    p0 = [r for r in first["participants"] + second["participants"] if r["user_email"] == "p0@example.org"]
    assert len(p0) == 2 and p0[0]["id"] == p0[1]["id"] and p0[0]["duration"] == 600


def test_daily_limit_answers_with_a_timestamp(zoom_api):
    api, zoom = zoom_api
    zoom.rate_limit(category="Medium", type="Daily-limit", limit=100, remaining=0)
    refused = api.get("/users/me")
    assert refused.status_code == 429 and refused.json()["code"] == 429
    assert refused.headers["X-RateLimit-Type"] == "Daily-limit" and refused.headers["Retry-After"].endswith("T00:00:00Z")
