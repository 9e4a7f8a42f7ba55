"""Google push through real HTTP: the hub on loopback subscribes with events.watch at the
sandbox, which delivers Google's notifications (its headers, over loopback) to
``/hooks/google``; the hub verifies them, stores the signals and syncs. The hub's
scheduler is off (as in every test hub): a change that reaches ``GET /api/events``
came by push, never by a poll."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import httpx
import pytest
from synctools import Calendar, connect_google

from axhub.db import PushSignal, PushSubscription, SyncRun
from axhub.scheduler.jobs import run_job
from axhub.testing import HubServer, integration, run_connection_test, wait_until
from axhub.testing.calendar import local_events

JUNE = ("2026-06-03T09:00:00+02:00", "2026-06-03T10:00:00+02:00")


@pytest.fixture(scope="module")
def _pushing(new_database, tmp_path_factory):
    server = HubServer(new_database(), tmp_path_factory.mktemp("push-hub"),
                       {"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "google"}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(_pushing):
    _pushing.reset()
    return _pushing


@pytest.fixture
def cal(hub):
    return Calendar(hub)


def push_state(hub: HubServer) -> dict:
    return hub.sandbox("google").get("/_control/push").json()



def push_runs(hub: HubServer) -> list:
    return [r for r in hub.rows(SyncRun) if (r.triggered_by or {}).get("name") == "push_notification"]


def connect_pushing(hub: HubServer, api: httpx.Client) -> str:
    integration_id = connect_google(api)
    wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("mode") == "push")
    return integration_id


def notify(hub: HubServer, headers: dict[str, str]) -> httpx.Response:
    with hub.anonymous() as anon:
        return anon.post("/hooks/google", headers=headers, content=b"")


def test_watch_handshake_confirms_the_channel_and_the_views_say_push(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [channel] = push_state(hub)["channels"]
        assert channel["address"] == f"{hub.url}/hooks/google"
        assert channel["kind"] == "api#channel" and channel["resourceId"] and channel["messages"] == 1
        # The sync message was acknowledged (2xx), and confirmed the subscription.
        [first] = push_state(hub)["deliveries"]
        assert (first["state"], first["status"], first["number"]) == ("sync", 200, 1)
        [sub] = hub.rows(PushSubscription)
        assert sub.state == "active" and sub.provider_id == channel["id"] and sub.resource_id == channel["resourceId"]
        # The channel token is a secret: sealed at rest, never shown.
        assert channel["token"].encode() not in sub.secret
        view = integration(api, integration_id)
        assert channel["token"] not in str(view)
        push = view["push"]
        assert push["mode"] == "push" and push["state"] == "active" and push["safetyPollSeconds"] == 6 * 3600
        assert int(channel["expiration"]) // 1000 == int(datetime.fromisoformat(push["until"].replace("Z", "+00:00")).timestamp())
        # The console's integration page says it too.
        browser = hub.anonymous()
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/console/sign-in").text).group(1)
        assert browser.post("/console/sign-in", data={"csrf": csrf, "token": hub.token("manager")}).status_code == 303
        page = browser.get(f"/console/integrations/{integration_id}").text
        assert re.search(r'<dd id="push">pushed by the provider until <time [^>]+>[^<]+</time> '
                         r'\(renewed before it expires\)</dd>', page), page
        assert channel["token"] not in page
        listing = browser.get("/console/integrations").text
        assert re.search(r'<td data-label="Changes">pushed until <time [^>]+>[^<]+</time></td>', listing), listing
        tested = run_connection_test(api, integration_id)
        assert tested["push"]["mode"] == "push"
        assert any("Change notifications are active until" in r for r in tested["recommendations"])
        assert channel["token"] not in str(tested)


def test_a_change_in_google_is_pushed_and_synced_without_a_poll(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        cal.insert_event("Pushed meeting", *JUNE)
        found = wait_until(lambda: [e for e in local_events(api) if e["title"] == "Pushed meeting"])
        assert found[0]["source"] == "google"
        [run] = push_runs(hub)
        assert run.type == "automatic" and run.triggered_by["notifications"] >= 1
        history = api.get(f"/api/integrations/{integration_id}/history").json()["data"]
        assert any(isinstance(h["triggeredBy"], dict) and h["triggeredBy"]["name"] == "push_notification" for h in history)
        # A change through the sandbox's control routes is pushed too.
        cal.control.post("/_control/calendar/seed", json={"count": 3, "start": "2026-07-01T08:00:00Z", "prefix": "Seeded"})
        wait_until(lambda: len([e for e in local_events(api) if e["title"].startswith("Seeded")]) == 3)


def test_forged_token_unknown_channel_and_bare_requests_are_refused_and_change_nothing(hub, cal):
    with hub.client("manager") as api:
        connect_pushing(hub, api)
        [channel] = push_state(hub)["channels"]
        signals, runs = len(hub.rows(PushSignal)), len(hub.rows(SyncRun))
        good = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Message-Number": "99", "X-Goog-Resource-State": "exists",
                "X-Goog-Resource-ID": channel["resourceId"], "X-Goog-Channel-Token": channel["token"]}
        forged = notify(hub, {**good, "X-Goog-Channel-Token": channel["token"][:-1] + "x"})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "UNAUTHORIZED"
        assert channel["token"] not in forged.text
        assert notify(hub, {**good, "X-Goog-Resource-ID": "another-resource"}).status_code == 401
        unknown = notify(hub, {**good, "X-Goog-Channel-ID": "sub-unknown"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
        assert notify(hub, {"X-Goog-Channel-ID": channel["id"]}).status_code == 401
        assert notify(hub, {k: v for k, v in good.items() if k != "X-Goog-Channel-Token"}).status_code == 401
        with hub.anonymous() as anon:
            assert anon.post("/hooks/nosuchprovider", content=b"").status_code == 404
            big = anon.post("/hooks/google", headers=good, content=b"x" * (65 * 1024))
            assert big.status_code == 413 and big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
            assert "64 KiB" in big.json()["error"]["message"]
        hub.run(hub.services.tasks.drain())
        assert len(hub.rows(PushSignal)) == signals and len(hub.rows(SyncRun)) == runs


def test_duplicated_and_bursting_notifications_are_worked_once(hub, cal):
    with hub.client("manager") as api:
        connect_pushing(hub, api)
        [channel] = push_state(hub)["channels"]
        cal.control.post("/_control/push", json={"duplicate": 1})
        cal.insert_event("Sent twice", *JUNE)
        wait_until(lambda: [e for e in local_events(api) if e["title"] == "Sent twice"])
        hub.run(hub.services.tasks.drain())
        sent = [d for d in push_state(hub)["deliveries"] if d["state"] == "exists"]
        assert len(sent) == 2 and sent[0]["number"] == sent[1]["number"]  # the same message, delivered twice
        assert len(push_runs(hub)) == 1
        # A replay of a message already stored is answered and dropped.
        replay = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Message-Number": str(sent[0]["number"]),
                  "X-Goog-Resource-State": "exists", "X-Goog-Resource-ID": channel["resourceId"],
                  "X-Goog-Channel-Token": channel["token"]}
        assert notify(hub, replay).status_code == 200
        hub.run(hub.services.tasks.drain())
        assert len(push_runs(hub)) == 1
        # Five distinct messages in a burst, sent at once (one after another, on a loaded
        # machine, they could each land after the last sync ended): fewer syncs than
        # messages (one, and at most one more for those that came while it ran), all of
        # them stored once.
        before = len(push_runs(hub))

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
                return await asyncio.gather(*(client.post("/hooks/google", content=b"", headers={
                    **replay, "X-Goog-Message-Number": str(1000 + n)}) for n in range(5)))

        assert [r.status_code for r in asyncio.run(burst())] == [200] * 5
        hub.run(hub.services.tasks.drain())
        assert 1 <= len(push_runs(hub)) - before <= 2
        assert sum(1 for s in hub.rows(PushSignal) if s.dedupe_key.startswith("google:100")) == 5


def test_renewal_before_expiry_opens_a_new_channel_then_stops_the_old_one(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [old] = hub.rows(PushSubscription)
        assert old.renew_at < old.expires_at
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at - timedelta(seconds=1)))
        assert push_state(hub)["stopped"] == [] and [s.id for s in hub.rows(PushSubscription)] == [old.id]
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at + timedelta(seconds=1)))
        state = push_state(hub)
        assert state["stopped"] == [old.provider_id]
        [channel] = state["channels"]
        assert channel["id"] != old.provider_id
        [new] = hub.rows(PushSubscription)
        assert new.provider_id == channel["id"] and new.renew_at > old.renew_at
        wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("state") == "active")
        # The same moment again renews nothing: each renewal once.
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at + timedelta(seconds=1)))
        assert push_state(hub)["stopped"] == [old.provider_id]
        cal.insert_event("After renewal", *JUNE)
        wait_until(lambda: [e for e in local_events(api) if e["title"] == "After renewal"])


def test_a_failed_renewal_polls_at_sync_interval_then_push_comes_back_after_repair(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [sub] = hub.rows(PushSubscription)
        row = hub.run(_integration_row(hub, integration_id))
        # Push healthy: the syncInterval fire is left to push, the safety poll still runs.
        assert hub.run(run_job(hub.services, "sync", row.last_sync + timedelta(seconds=300),
                               integration_id=integration_id)) == "push"
        cal.control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events/watch",
                                                    "status": 503, "count": 100})
        at = sub.renew_at + timedelta(seconds=1)
        hub.run(run_job(hub.services, "push-upkeep", at))
        push = integration(api, integration_id)["push"]
        assert push["mode"] == "polling" and push["state"] == "failing" and "syncInterval" in push["reason"]
        assert any("Repair push" in r for r in run_connection_test(api, integration_id)["recommendations"])
        assert hub.run(run_job(hub.services, "sync", at + timedelta(seconds=300), integration_id=integration_id)) \
            == "started"
        cal.control.delete("/_control/faults")
        [failing] = hub.rows(PushSubscription)
        hub.run(run_job(hub.services, "push-upkeep", failing.renew_at + timedelta(seconds=1)))
        wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("mode") == "push")


def test_disconnect_stops_the_channel_at_google(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [channel] = push_state(hub)["channels"]
        assert api.delete(f"/api/integrations/{integration_id}").status_code == 200
        state = push_state(hub)
        assert state["channels"] == [] and state["stopped"] == [channel["id"]]
        assert hub.rows(PushSubscription) == []
        late = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Message-Number": "7", "X-Goog-Resource-State": "exists",
                "X-Goog-Resource-ID": channel["resourceId"], "X-Goog-Channel-Token": channel["token"]}
        assert notify(hub, late).status_code == 404


def test_without_a_public_https_address_the_integration_polls(hub, make_hub):
    # Its sandboxes are the other hub's (AXHUB_SANDBOX_URL); its own address is plain http
    # and not loopback, which no provider pushes to.
    polling = make_hub({"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "google", "AXHUB_PUBLIC_URL": "http://hub.example.test",
                        "AXHUB_SANDBOX_URL": hub.services.hub.sandbox_base})
    with polling.client("manager") as api:
        integration_id = connect_google(api)
        polling.run(polling.services.tasks.drain())
        push = integration(api, integration_id)["push"]
        assert push == {"mode": "polling", "state": "unavailable", "until": None,
                        "reason": "AXHUB_PUBLIC_URL is not an https address (providers push only to https)",
                        "lastNotificationAt": None, "safetyPollSeconds": None}
        assert push_state(hub)["channels"] == []
        assert hub.sandbox("google").get("/_control/stats").json()["counters"].get("events.watch", 0) == 0


async def _integration_row(hub: HubServer, integration_id: str):
    from axhub.db import Integration

    async with hub.services.db.session() as s:
        return await s.get(Integration, integration_id)


def test_a_dropped_notification_is_caught_by_the_safety_poll(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        cal.control.post("/_control/push", json={"drop": 1})
        cal.insert_event("Never notified", *JUNE)
        state = push_state(hub)
        assert state["deliveries"][-1]["dropped"] is True and state["drop"] == 0
        hub.run(hub.services.tasks.drain())
        assert not [e for e in local_events(api) if e["title"] == "Never notified"]
        row = hub.run(_integration_row(hub, integration_id))
        safety = timedelta(seconds=hub.services.config.push_safety_poll)
        # Within the safety poll the syncInterval fire is left to push; past it, it syncs.
        assert hub.run(run_job(hub.services, "sync", row.last_sync + safety - timedelta(seconds=60),
                               integration_id=integration_id)) == "push"
        assert hub.run(run_job(hub.services, "sync", row.last_sync + safety + timedelta(seconds=1),
                               integration_id=integration_id)) == "started"
        assert [e for e in local_events(api) if e["title"] == "Never notified"]


def test_an_expired_channel_delivers_nothing_and_the_hub_polls_until_it_is_renewed(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [sub] = hub.rows(PushSubscription)
        assert cal.control.post("/_control/push/expire", json={}).json() == {"expired": 1}
        cal.insert_event("After expiry", *JUNE)
        assert [d["state"] for d in push_state(hub)["deliveries"]] == ["sync"]
        # Past the expiry the upkeep round opens a new channel (the old one is gone at Google).
        after = sub.expires_at + timedelta(seconds=1)
        hub.run(run_job(hub.services, "push-upkeep", after))
        [new] = hub.rows(PushSubscription)
        assert new.id != sub.id
        wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("mode") == "push")
        cal.insert_event("Pushed again", *JUNE)
        wait_until(lambda: [e for e in local_events(api) if e["title"] == "Pushed again"])


def test_two_rounds_at_once_renew_once_and_rotated_keys_keep_channels_verified(hub, cal):
    import asyncio

    with hub.client("manager") as api:
        connect_pushing(hub, api)
        [old] = hub.rows(PushSubscription)
        at = old.renew_at + timedelta(seconds=1)

        async def both():
            return await asyncio.gather(run_job(hub.services, "push-upkeep", at), run_job(hub.services, "push-upkeep", at))

        hub.run(both())
        state = push_state(hub)
        assert state["stopped"] == [old.provider_id] and len(state["channels"]) == 1
        assert len(hub.rows(PushSubscription)) == 1
        [before] = hub.rows(PushSubscription)
        assert hub.run(hub.services.vault.rotate_all()) >= 1
        [after] = hub.rows(PushSubscription)
        assert after.secret != before.secret  # re-sealed
        cal.insert_event("After rotation", *JUNE)
        wait_until(lambda: [e for e in local_events(api) if e["title"] == "After rotation"])


def test_new_settings_renew_the_channel_so_it_watches_the_calendar_now_synced(hub, cal):
    with hub.client("manager") as api:
        integration_id = connect_pushing(hub, api)
        [old] = push_state(hub)["channels"]
        # The sandbox user's own calendar, by its id (its address) instead of "primary".
        me = api.get(f"/api/integrations/{integration_id}").json()["data"]["account"]["email"]
        saved = api.put(f"/api/integrations/{integration_id}/settings", json={"settings": {"calendarId": me}})
        assert saved.status_code == 200, saved.text
        hub.run(hub.services.tasks.drain())
        state = push_state(hub)
        assert state["stopped"] == [old["id"]]
        [channel] = state["channels"]
        assert f"/calendars/{me}/events" in channel["resourceUri"]
        [sub] = hub.rows(PushSubscription)
        assert sub.resource == me and sub.provider_id == channel["id"]


def test_a_lost_confirmation_is_made_up_for_by_the_first_change_and_late_notifications_still_sync(hub, cal):
    with hub.client("manager") as api:
        cal.control.post("/_control/push", json={"drop": 1})  # the sync message that follows the watch
        integration_id = connect_google(api)
        hub.run(hub.services.tasks.drain())
        assert push_state(hub)["deliveries"][0]["dropped"] is True
        assert integration(api, integration_id)["push"]["state"] == "pending"
        cal.control.post("/_control/push", json={"delay": 0.2})
        cal.insert_event("Late but pushed", *JUNE)
        wait_until(lambda: [e for e in local_events(api) if e["title"] == "Late but pushed"])
        assert integration(api, integration_id)["push"]["mode"] == "push"


def test_the_push_address(tmp_path):
    from axhub.config import Config

    def address(**env):
        return Config.from_env({"AXHUB_DATA_DIR": str(tmp_path), **env}, recorded=False).push_address()

    assert address(AXHUB_PUBLIC_URL="https://hub.example.com/") == ("https://hub.example.com", "")
    assert address() == (None, "AXHUB_PUBLIC_URL is not set, so providers have no address to notify")
    assert address(AXHUB_PUBLIC_URL="http://127.0.0.1:9000")[0] is None  # loopback without the sandboxes
    assert address(AXHUB_PUBLIC_URL="http://127.0.0.1:9000", AXHUB_SANDBOX="1") == ("http://127.0.0.1:9000", "")
    assert address(AXHUB_SANDBOX="1")[0] == "http://127.0.0.1:8000"  # serve --sandbox on loopback
    assert address(AXHUB_PUBLIC_URL="https://hub.example.com", AXHUB_PUSH="0")[0] is None
