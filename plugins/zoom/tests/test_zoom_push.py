"""Zoom push through real HTTP: the hub on loopback subscribes (the sandbox app's
endpoint is set to ``/hooks/zoom`` and validated with Zoom's challenge); a meeting that
ends at the sandbox sends ``meeting.ended``, signed as Zoom signs it, and the hub pulls
that meeting's attendance at once. The hub's scheduler is off (as in every test hub):
attendance that appears came by push, never by a poll."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from axhub.db import Integration, PushSignal, PushSubscription, SyncRun
from axhub.push.mode import defers
from axhub.testing import HubServer, run_sync, wait_until
from axhub_zoom.push import SANDBOX_SECRET, sign
from zoomtools import Zoom, attendance, connect_zoom, create_event, event, finish, now, session

SETTINGS = {"autoCreateMeetings": True,
            "attendanceTracking": {"enabled": True, "syncAttendance": True, "minimumDuration": 30}}
ATTENDEES = [{"email": "alice@techcorp.com", "name": "Alice"}, {"email": "bob@techcorp.com", "name": "Bob"}]


@pytest.fixture(scope="module")
def _pushing(new_database, tmp_path_factory):
    server = HubServer(new_database(), tmp_path_factory.mktemp("zoom-push-hub"),
                       {"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "zoom"}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(_pushing):
    _pushing.reset()
    return _pushing


@pytest.fixture
def api(hub):
    with hub.client("manager") as client:
        yield client


def push_state(hub: HubServer) -> dict:
    return hub.sandbox("zoom").get("/_control/push").json()



def push_runs(hub: HubServer) -> list:
    return [r for r in hub.rows(SyncRun) if (r.triggered_by or {}).get("name") == "push_notification"]


def signed(body: dict, *, secret: str = SANDBOX_SECRET, stamp: int | None = None) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if stamp is None else stamp
    mac = sign(secret, f"v0:{stamp}:".encode() + raw)
    return {"x-zm-request-timestamp": str(stamp), "x-zm-signature": "v0=" + mac, "content-type": "application/json"}, raw


def post(hub: HubServer, headers: dict[str, str], raw: bytes) -> httpx.Response:
    with hub.anonymous() as anon:
        return anon.post("/hooks/zoom", headers=headers, content=raw)


def meeting_over(api, zoom: Zoom, integration_id: str) -> tuple[str, int, object]:
    """An event with a Zoom meeting (made by a sync), now over; its meeting id."""
    start = now() - timedelta(minutes=60)
    created = create_event(api, start, now() + timedelta(hours=1), attendees=ATTENDEES)
    assert run_sync(api, integration_id)["status"] == "completed"
    meeting_id = event(api, created["id"])["meeting"]["id"]
    finish(api, created["id"])
    return created["id"], meeting_id, start


def play(zoom: Zoom, meeting_id, start) -> None:
    zoom.play(meeting_id, [
        {"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 0, 50)]},
        {"name": "Bob", "email": "bob@techcorp.com", "sessions": [session(start, 0, 10)]},  # under minimumDuration
    ])


def connected(hub: HubServer, api) -> tuple[str, Zoom]:
    integration_id = connect_zoom(api, **SETTINGS)
    wait_until(lambda: push_state(hub)["validated"])
    return integration_id, Zoom(hub)


def test_the_endpoint_is_validated_with_zoom_s_challenge(hub, api):
    connected(hub, api)
    state = push_state(hub)
    assert state["endpoint"] == f"{hub.url}/hooks/zoom"
    [validation] = state["deliveries"]
    assert (validation["event"], validation["status"]) == ("endpoint.url_validation", 200)
    [sub] = hub.rows(PushSubscription)
    assert sub.resource == "sbx-account-1" and sub.expires_at is None
    # The answer's shape, as Zoom checks it: the plainToken and its HMAC under the Secret Token.
    answer = post(hub, *signed({"event": "endpoint.url_validation", "event_ts": 1,
                                "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                             "encryptedToken": sign(SANDBOX_SECRET, b"qgg8vlvZRS6UYooatFL8Aw")}
    # Unsigned, a validation is refused: answering it would sign anything for anyone.
    with hub.anonymous() as anon:
        assert anon.post("/hooks/zoom", json={"event": "endpoint.url_validation",
                                              "payload": {"plainToken": "x"}}).status_code == 401


def test_a_meeting_that_ends_has_its_attendance_pulled_at_once(hub, api):
    integration_id, zoom = connected(hub, api)
    event_id, meeting_id, start = meeting_over(api, zoom, integration_id)
    assert attendance(api, event_id)["alice@techcorp.com"]["status"] == "unknown"
    hub.sandbox("zoom").post("/_control/push", json={"duplicate": 1})  # Zoom retries: delivered twice
    play(zoom, meeting_id, start)

    records = wait_until(lambda: (a := attendance(api, event_id))["alice@techcorp.com"]["status"] != "unknown" and a)
    assert {e: r["status"] for e, r in records.items()} == {"alice@techcorp.com": "present",
                                                           "bob@techcorp.com": "absent"}
    ended = [d for d in push_state(hub)["deliveries"] if d["event"] == "meeting.ended"]
    assert [d["status"] for d in ended] == [200, 200]
    [signal] = hub.rows(PushSignal)  # the duplicate changed nothing twice
    assert (signal.kind, signal.detail) == ("ended", str(meeting_id))
    hub.run(hub.services.tasks.drain())
    [run] = push_runs(hub)
    assert run.triggered_by["provider"] == "zoom" and run.status == "completed"
    assert [s.state for s in hub.rows(PushSubscription)] == ["active"]


@pytest.mark.parametrize("control", [{"forge": 1}, {"stale": 1}, {"drop": 1}])
def test_a_forged_stale_or_lost_notification_changes_nothing(hub, api, control):
    integration_id, zoom = connected(hub, api)
    event_id, meeting_id, start = meeting_over(api, zoom, integration_id)
    hub.sandbox("zoom").post("/_control/push", json=control)
    play(zoom, meeting_id, start)
    [ended] = [d for d in push_state(hub)["deliveries"] if d["event"] == "meeting.ended"]
    assert ended["status"] == (None if "drop" in control else 401)
    hub.run(hub.services.tasks.drain())
    assert hub.rows(PushSignal) == [] and push_runs(hub) == []
    assert attendance(api, event_id)["alice@techcorp.com"]["status"] == "unknown"


def test_bad_signatures_stale_timestamps_and_unknown_accounts_are_refused(hub, api):
    connected(hub, api)
    body = {"event": "meeting.ended", "event_ts": 1,
            "payload": {"account_id": "sbx-account-1", "object": {"id": "85746065", "uuid": "u-1"}}}
    headers, raw = signed(body)
    assert post(hub, {**headers, "x-zm-signature": "v0=" + "0" * 64}, raw).status_code == 401
    assert post(hub, {k: v for k, v in headers.items() if k != "x-zm-signature"}, raw).status_code == 401
    assert post(hub, headers, raw.replace(b"u-1", b"u-2")).status_code == 401  # the body changed after signing
    assert post(hub, *signed(body, secret="someone-else")).status_code == 401
    assert post(hub, *signed(body, stamp=int(time.time()) - 600)).status_code == 401
    assert post(hub, *signed(body, stamp=int(time.time()) + 600)).status_code == 401
    elsewhere = {**body, "payload": {**body["payload"], "account_id": "another-account"}}
    assert post(hub, *signed(elsewhere)).status_code == 404
    assert post(hub, *signed({"event": "meeting.started", "payload": {"account_id": "another-account"}})
                ).status_code == 404
    assert post(hub, *signed({"event": "meeting.started", "payload": {"account_id": "sbx-account-1"}})
                ).status_code == 200  # acknowledged, not used
    deep = b"[" * 40000  # signed, but no JSON the parser takes: refused, never a 5xx
    stamp = str(int(time.time()))
    assert post(hub, {"x-zm-request-timestamp": stamp, "x-zm-signature": "v0=" + sign(
        SANDBOX_SECRET, f"v0:{stamp}:".encode() + deep)}, deep).status_code == 400
    hub.run(hub.services.tasks.drain())
    assert hub.rows(PushSignal) == [] and push_runs(hub) == []


def test_a_meeting_that_ends_before_its_event_has_its_attendance_pulled(hub, api):
    integration_id, zoom = connected(hub, api)
    start = now() - timedelta(minutes=60)
    created = create_event(api, start, now() + timedelta(hours=1), attendees=ATTENDEES)  # scheduled for another hour
    assert run_sync(api, integration_id)["status"] == "completed"
    play(zoom, event(api, created["id"])["meeting"]["id"], start)  # but it is over already
    records = wait_until(lambda: (a := attendance(api, created["id"]))["alice@techcorp.com"]["status"] != "unknown"
                         and a)
    assert {e: r["status"] for e, r in records.items()} == {"alice@techcorp.com": "present",
                                                           "bob@techcorp.com": "absent"}


def test_while_zoom_s_report_is_not_ready_the_schedule_keeps_asking(hub, api):
    integration_id, zoom = connected(hub, api)
    event_id, meeting_id, start = meeting_over(api, zoom, integration_id)
    zoom.play(meeting_id, [{"name": "Alice", "email": "alice@techcorp.com", "sessions": [session(start, 0, 50)]}],
              report_delay=1800)

    def pending_run():
        hub.run(hub.services.tasks.drain())
        runs = [r for r in push_runs(hub) if r.completed_at is not None]
        return runs and runs[0]

    run = wait_until(pending_run)
    assert run.statistics["attendance"]["pending"]  # Zoom has no report yet
    assert [s.state for s in hub.rows(PushSubscription)] == ["active"]

    def deferred() -> bool:
        [row] = hub.rows(Integration)
        return hub.run(defers(hub.services, row, datetime.now(timezone.utc)))

    assert not deferred()  # push is active, but the report's readiness is never notified: polled
    zoom.advance(1801)
    assert run_sync(api, integration_id)["status"] == "completed"
    assert attendance(api, event_id)["alice@techcorp.com"]["status"] == "present"
    assert deferred()  # recorded: back to the safety poll only


def test_the_sandbox_keeps_its_endpoint_across_a_restart_not_what_is_in_flight(tmp_path):
    from axhub.sandbox.persist import SandboxState
    from axhub_zoom.sandbox_push import ZoomPush

    before = ZoomPush()
    before.endpoint, before.validated, before.out.counters["drop"] = "http://127.0.0.1:1/hooks/zoom", True, 3
    saved = SandboxState({"push": lambda: before})
    saved.attach(tmp_path / "zoom.state")
    saved.save()
    after = ZoomPush()
    SandboxState({"push": lambda: after}).attach(tmp_path / "zoom.state")
    assert (after.endpoint, after.validated, after.out.counters["drop"]) == (before.endpoint, True, 0)
    assert after.out.deliveries == [] and after.describe()["inFlight"] == 0
