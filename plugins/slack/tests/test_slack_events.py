"""Slack's Events API through real HTTP: the hub on loopback subscribes (the sandbox
app's Request URL is set to ``/hooks/slack`` and verified with Slack's
``url_verification`` challenge); uninstalling the app at the sandbox sends
``tokens_revoked`` and ``app_uninstalled``, signed as Slack signs them, and the
integration turns ``error`` with ``INVALID_CREDENTIALS`` and posts nothing more."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from axhub import v0_signature
from axhub.db import DeliveryMessage, PushSignal, PushSubscription
from axhub.testing import HubServer, connect, integration, notify, wait_until
from axhub_slack.push import SANDBOX_SECRET

SCOPES = ["messages.send", "channels.read", "users.read", "webhook"]
TEAM = "T0SANDBOX01"


@pytest.fixture(scope="module")
def _pushing(new_database, tmp_path_factory):
    server = HubServer(new_database(), tmp_path_factory.mktemp("slack-push-hub"),
                       {"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "slack"}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(_pushing):
    _pushing.reset()
    return _pushing


@pytest.fixture
def api(hub):
    with hub.client("admin") as client:
        yield client


def push_state(hub: HubServer) -> dict:
    return hub.sandbox("slack").get("/_control/push").json()



def connected(hub: HubServer, api) -> str:
    data = connect(api, "slack", scopes=SCOPES, settings={"channels": {"default": "#general"}})
    wait_until(lambda: push_state(hub)["verified"])
    return data["integrationId"]


def signed(body: dict, *, secret: str = SANDBOX_SECRET, stamp: int | None = None) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if stamp is None else stamp
    return ({"x-slack-request-timestamp": str(stamp), "x-slack-signature": v0_signature(secret, str(stamp), raw),
             "content-type": "application/json"}, raw)


def post(hub: HubServer, headers: dict[str, str], raw: bytes) -> httpx.Response:
    with hub.anonymous() as anon:
        return anon.post("/hooks/slack", headers=headers, content=raw)


def uninstalled(team: str = TEAM, event_id: str = "Ev0TEST0001") -> dict:
    return {"token": "x", "team_id": team, "api_app_id": "A0SANDBOX01", "event": {"type": "app_uninstalled"},
            "type": "event_callback", "event_id": event_id, "event_time": 1}


def reminder(event_id: str) -> dict:
    start = datetime.now(timezone.utc) + timedelta(minutes=15)
    return {"eventId": event_id, "title": "Formation", "start": start.isoformat(), "location": "Salle 2"}


def test_the_request_url_is_verified_with_slack_s_challenge(hub, api):
    connected(hub, api)
    state = push_state(hub)
    assert state["requestUrl"] == f"{hub.url}/hooks/slack"
    assert [(d["event"], d["status"]) for d in state["deliveries"]] == [("url_verification", 200)]
    [sub] = hub.rows(PushSubscription)
    assert sub.resource == TEAM and sub.expires_at is None
    answer = post(hub, *signed({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                                "type": "url_verification"}))
    assert answer.status_code == 200 and answer.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    with hub.anonymous() as anon:  # unsigned: refused, challenge or not
        assert anon.post("/hooks/slack", json={"challenge": "abc", "type": "url_verification"}).status_code == 401


def test_an_uninstalled_app_turns_the_integration_to_error_and_stops_its_notifications(hub, api):
    integration_id = connected(hub, api)
    notify(hub, "eventReminder", reminder("evt-1"))
    wait_until(lambda: any(d.status == "delivered" for d in hub.rows(DeliveryMessage)))
    hub.sandbox("slack").post("/_control/push", json={"duplicate": 2})  # Slack retries both events
    assert hub.sandbox("slack").post("/_control/uninstall").status_code == 200

    view = wait_until(lambda: (v := integration(api, integration_id))["status"] == "error" and v)
    assert view["lastError"]["code"] == "INVALID_CREDENTIALS"
    sent = [d for d in push_state(hub)["deliveries"] if d["event"] != "url_verification"]
    assert sorted((d["event"], d["status"]) for d in sent) == [("app_uninstalled", 200)] * 2 + [
        ("tokens_revoked", 200)] * 2
    assert sorted(s.detail for s in hub.rows(PushSignal)) == ["app_uninstalled", "tokens_revoked"]  # once each
    assert [s.state for s in hub.rows(PushSubscription)] == ["stopped"]
    hub.run(hub.services.tasks.drain())
    before = len(hub.rows(DeliveryMessage))
    notify(hub, "eventReminder", reminder("evt-2"))
    hub.run(hub.services.tasks.drain())
    assert len(hub.rows(DeliveryMessage)) == before  # nothing more is posted for it
    # Its subscription is stopped: later events for the team are not the hub's any more.
    assert post(hub, *signed(uninstalled(event_id="Ev0TEST0009"))).status_code == 404


def test_revoked_tokens_alone_turn_it_to_error(hub, api):
    integration_id = connected(hub, api)
    assert hub.sandbox("slack").post("/_control/tokens-revoked").status_code == 200
    view = wait_until(lambda: (v := integration(api, integration_id))["status"] == "error" and v)
    assert view["lastError"]["code"] == "INVALID_CREDENTIALS"
    # Tokens of other users of the team are not this integration's.
    other = connected(hub, api)
    assert post(hub, *signed({**uninstalled(event_id="Ev0TEST0002"), "event": {
        "type": "tokens_revoked", "tokens": {"oauth": ["U0SOMEONE01"], "bot": []}}})).status_code == 200
    hub.run(hub.services.tasks.drain())
    assert integration(api, other)["status"] == "connected"


@pytest.mark.parametrize("control", [{"forge": 2}, {"stale": 2}, {"drop": 2}])
def test_a_forged_stale_or_lost_event_changes_nothing(hub, api, control):
    integration_id = connected(hub, api)
    hub.sandbox("slack").post("/_control/push", json=control)
    hub.sandbox("slack").post("/_control/uninstall")
    sent = [d for d in push_state(hub)["deliveries"] if d["event"] != "url_verification"]
    assert [d["status"] for d in sent] == [None if "drop" in control else 401] * 2
    hub.run(hub.services.tasks.drain())
    assert hub.rows(PushSignal) == [] and integration(api, integration_id)["status"] == "connected"


def test_bad_signatures_stale_timestamps_and_unknown_teams_are_refused(hub, api):
    integration_id = connected(hub, api)
    headers, raw = signed(uninstalled())
    assert post(hub, {**headers, "x-slack-signature": "v0=" + "0" * 64}, raw).status_code == 401
    assert post(hub, {k: v for k, v in headers.items() if k != "x-slack-request-timestamp"}, raw).status_code == 401
    assert post(hub, headers, raw.replace(b"Ev0TEST0001", b"Ev0TEST0003")).status_code == 401
    assert post(hub, *signed(uninstalled(), secret="someone-else")).status_code == 401
    assert post(hub, *signed(uninstalled(), stamp=int(time.time()) - 600)).status_code == 401
    assert post(hub, *signed(uninstalled(), stamp=int(time.time()) + 600)).status_code == 401
    assert post(hub, *signed(uninstalled(team="T0ELSEWHERE"))).status_code == 404
    deep, stamp = b"[" * 40000, str(int(time.time()))  # signed, but no JSON the parser takes: never a 5xx
    assert post(hub, {"x-slack-request-timestamp": stamp, "x-slack-signature": v0_signature(SANDBOX_SECRET, stamp, deep)},
                deep).status_code == 400
    hub.run(hub.services.tasks.drain())
    assert hub.rows(PushSignal) == [] and integration(api, integration_id)["status"] == "connected"


def test_the_sandbox_keeps_its_request_url_across_a_restart_not_what_is_in_flight(tmp_path):
    from axhub.sandbox.persist import SandboxState
    from axhub_slack.sandbox_push import SlackPush

    before = SlackPush()
    before.request_url, before.verified, before.out.counters["forge"] = "http://127.0.0.1:1/hooks/slack", True, 2
    saved = SandboxState({"push": lambda: before})
    saved.attach(tmp_path / "slack.state")
    saved.save()
    after = SlackPush()
    SandboxState({"push": lambda: after}).attach(tmp_path / "slack.state")
    assert (after.request_url, after.verified, after.out.counters["forge"]) == (before.request_url, True, 0)
    assert after.out.deliveries == [] and after.describe()["inFlight"] == 0
