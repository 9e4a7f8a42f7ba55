"""Microsoft Graph push through real HTTP: the hub on loopback creates a subscription at the
sandbox, which validates the hub's address (the handshake) before saying yes, then
delivers Graph's ``{"value": [...]}`` notifications to ``/hooks/microsoft/…``; the hub
checks each item's clientState, stores the signals and syncs. The hub's scheduler is
off (as in every test hub): a change that reaches ``GET /api/events`` came by push."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from outlook import Outlook

from axhub.db import Integration, PushSignal, PushSubscription, SyncRun
from axhub.scheduler.jobs import run_job
from axhub.testing import HubServer, connect_synced, integration, run_connection_test, wait_until
from axhub.testing.calendar import local_events

JAN = ("2027-01-12T09:00:00Z", "2027-01-12T10:00:00Z")  # inside the default sync window


@pytest.fixture(scope="module")
def _pushing(new_database, tmp_path_factory):
    server = HubServer(new_database(), tmp_path_factory.mktemp("graph-push-hub"),
                       {"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "microsoft"}).start()
    yield server
    server.stop()


@pytest.fixture
def hub(_pushing):
    _pushing.reset()
    return _pushing


@pytest.fixture
def outlook(hub):
    return Outlook(hub)


def push_state(hub: HubServer) -> dict:
    return hub.sandbox("microsoft").get("/_control/push").json()



def push_runs(hub: HubServer) -> list:
    return [r for r in hub.rows(SyncRun) if (r.triggered_by or {}).get("name") == "push_notification"]


def connect_pushing(api: httpx.Client) -> str:
    integration_id = connect_synced(api, "microsoft")
    # The handshake confirms the subscription while Graph's answer (its id, its expiry)
    # is on its way: wait for both.
    wait_until(lambda: (push := integration(api, integration_id)["push"] or {}).get("mode") == "push"
               and push.get("until"))
    return integration_id


def notify(hub: HubServer, body, tail: str = "x") -> httpx.Response:
    with hub.anonymous() as anon:
        return anon.post(f"/hooks/microsoft/{tail}", json=body)


def item(sub: dict, **extra) -> dict:
    """A change notification item as Graph sends it for ``sub`` (the sandbox's view)."""
    return {"subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "clientState": sub["clientState"], "changeType": "updated", "tenantId": "t",
            "resource": "Users/u/Events/e1",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": "Users/u/Events/e1",
                             "@odata.etag": 'W/"1"', "id": "e1"}, **extra}


def titled(api: httpx.Client, title: str) -> list:
    return [e for e in local_events(api) if e["title"] == title]


def test_the_validation_handshake_confirms_the_subscription_and_the_views_say_push(hub):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        state = push_state(hub)
        [sub] = state["subscriptions"]
        [row] = hub.rows(PushSubscription)
        assert sub["notificationUrl"] == f"{hub.url}/hooks/microsoft/{row.id}"
        assert sub["lifecycleNotificationUrl"] == f"{hub.url}/hooks/microsoft/{row.id}/lifecycle"
        assert sub["changeType"] == "created,updated,deleted" and sub["resource"] == "me/events"
        # Graph validated both addresses before it created the subscription.
        assert [h["ok"] for h in state["handshakes"]] == [True, True]
        assert row.state == "active" and row.provider_id == sub["id"] and row.resource == "me/events"
        expires = datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00")[:26] + "+00:00")
        assert expires <= datetime.now(timezone.utc) + timedelta(minutes=10080)
        assert abs((row.expires_at.replace(tzinfo=timezone.utc) - expires).total_seconds()) < 1
        # The clientState is the subscription's secret: sealed at rest, never shown.
        assert sub["clientState"].encode() not in row.secret
        view = integration(api, integration_id)
        assert view["push"]["mode"] == "push" and view["push"]["state"] == "active"
        assert sub["clientState"] not in str(view)
        tested = run_connection_test(api, integration_id)
        assert tested["push"]["mode"] == "push" and sub["clientState"] not in str(tested)
    # The handshake's answer: the token, as text/plain, whatever the path.
    with hub.anonymous() as anon:
        echoed = anon.post("/hooks/microsoft/anything", params={"validationToken": "Validation: Testing client 1+2"},
                           headers={"Content-Type": "text/plain"})
        assert echoed.status_code == 200 and echoed.text == "Validation: Testing client 1+2"
        assert echoed.headers["content-type"].startswith("text/plain")


def test_a_change_in_outlook_is_pushed_and_synced_without_a_poll(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        created = outlook.create("Pushed meeting", *JAN)
        found = wait_until(lambda: titled(api, "Pushed meeting"))
        assert found[0]["source"] == "microsoft"
        [run] = push_runs(hub)
        assert run.type == "automatic" and run.triggered_by["notifications"] >= 1
        [delivery] = [d for d in push_state(hub)["deliveries"] if d["kind"] == "change"]
        assert delivery["status"] == 202 and delivery["items"] == 1
        history = api.get(f"/api/integrations/{integration_id}/history").json()["data"]
        assert any(isinstance(h["triggeredBy"], dict) and h["triggeredBy"]["name"] == "push_notification" for h in history)
        # The user renames it in Outlook (the sandbox's control route): pushed too.
        renamed = outlook.control.patch(f"/_control/outlook/events/{created['id']}", json={"subject": "Renamed in Outlook"})
        assert renamed.status_code == 200, renamed.text
        wait_until(lambda: titled(api, "Renamed in Outlook"))
        # Seeding three events is one request: one POST carrying three items.
        outlook.control.post("/_control/outlook/seed", json={"count": 3, "start": "2027-01-20T08:00:00Z", "prefix": "Seeded"})
        wait_until(lambda: len([e for e in local_events(api) if e["title"].startswith("Seeded")]) == 3)
        assert push_state(hub)["deliveries"][-1]["items"] == 3


def test_a_wrong_client_state_or_an_unknown_subscription_is_refused_and_changes_nothing(hub):
    with hub.client("manager") as api:
        connect_pushing(api)
        [sub] = push_state(hub)["subscriptions"]
        signals, runs = len(hub.rows(PushSignal)), len(hub.rows(SyncRun))
        forged = notify(hub, {"value": [item(sub, clientState=sub["clientState"][:-1] + "x")]})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "UNAUTHORIZED"
        assert sub["clientState"] not in forged.text
        missing = item(sub)
        del missing["clientState"]
        assert notify(hub, {"value": [missing]}).status_code == 401
        unknown = notify(hub, {"value": [item(sub, subscriptionId="7f105c7d-2dc5-4530-97cd-4e7ae6534c07")]})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
        assert notify(hub, {"value": []}).status_code == 400
        with hub.anonymous() as anon:
            assert anon.post("/hooks/microsoft", content=b"not json").status_code == 400
        hub.run(hub.services.tasks.drain())
        assert len(hub.rows(PushSignal)) == signals and len(hub.rows(SyncRun)) == runs
        # Each item is verified on its own: in a batch, the good one is taken, the forged one not.
        mixed = notify(hub, {"value": [item(sub, clientState="forged"), item(sub)]})
        assert mixed.status_code == 202
        hub.run(hub.services.tasks.drain())
        assert len(hub.rows(PushSignal)) == signals + 1


def test_duplicated_and_bursting_notifications_are_worked_once(hub, outlook):
    with hub.client("manager") as api:
        connect_pushing(api)
        [sub] = push_state(hub)["subscriptions"]
        outlook.control.post("/_control/push", json={"duplicate": 1})
        outlook.create("Sent twice", *JAN)
        wait_until(lambda: titled(api, "Sent twice"))
        hub.run(hub.services.tasks.drain())
        sent = [d for d in push_state(hub)["deliveries"] if d["kind"] == "change"]
        assert len(sent) == 2 and sent[0]["number"] == sent[1]["number"]  # one notification, delivered twice
        assert len(push_runs(hub)) == 1
        # A replay of an item already stored is answered and dropped.
        assert notify(hub, {"value": [item(sub)]}).status_code == 202
        hub.run(hub.services.tasks.drain())
        before = len(push_runs(hub))
        assert notify(hub, {"value": [item(sub)]}).status_code == 202
        hub.run(hub.services.tasks.drain())
        assert len(push_runs(hub)) == before
        # Five distinct changes in a burst: one sync, or two for those that came while it ran.
        for n in range(5):
            etag = f'W/"burst-{n}"'
            assert notify(hub, {"value": [item(sub, resourceData={"id": f"b{n}", "@odata.etag": etag})]}).status_code == 202
        hub.run(hub.services.tasks.drain())
        assert 1 <= len(push_runs(hub)) - before <= 2


def _wait_renew_due(hub: HubServer, sub_id: str) -> PushSubscription:
    def due():
        [row] = [r for r in hub.rows(PushSubscription) if r.id == sub_id] or [None]
        return row if row is not None and row.renew_at is not None and \
            row.renew_at.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc) else None
    return wait_until(due)


def test_lifecycle_events_renew_recreate_or_sync(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        [row] = hub.rows(PushSubscription)
        [sub] = push_state(hub)["subscriptions"]
        # reauthorizationRequired: renewed at the next round, in place (PATCH).
        assert outlook.control.post("/_control/push/lifecycle", json={"lifecycleEvent": "reauthorizationRequired"}
                                    ).json() == {"sent": 1}
        assert push_state(hub)["deliveries"][-1]["status"] == 202
        _wait_renew_due(hub, row.id)
        hub.run(run_job(hub.services, "push-upkeep", datetime.now(timezone.utc) + timedelta(seconds=1)))
        assert [e["method"] for e in outlook.log() if e["path"].startswith("/subscriptions/")] == ["PATCH"]
        [same] = hub.rows(PushSubscription)
        assert (same.id, same.provider_id, same.state) == (row.id, sub["id"], "active")
        # missed: Graph could not deliver some notifications, an incremental sync instead.
        outlook.control.post("/_control/push", json={"drop": 1})
        outlook.create("Missed change", *JAN)
        assert push_state(hub)["deliveries"][-1]["dropped"] is True
        outlook.control.post("/_control/push/lifecycle", json={"lifecycleEvent": "missed"})
        wait_until(lambda: titled(api, "Missed change"))
        assert push_runs(hub)
        # subscriptionRemoved: Graph dropped it; the next round creates a new one.
        outlook.control.post("/_control/push/lifecycle", json={"lifecycleEvent": "subscriptionRemoved"})
        assert push_state(hub)["subscriptions"] == []
        _wait_renew_due(hub, row.id)
        hub.run(run_job(hub.services, "push-upkeep", datetime.now(timezone.utc) + timedelta(seconds=1)))
        [new] = push_state(hub)["subscriptions"]
        assert new["id"] != sub["id"]
        [fresh] = hub.rows(PushSubscription)
        assert fresh.provider_id == new["id"] and fresh.id != row.id
        wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("state") == "active")
        outlook.create("After recreation", *JAN)
        wait_until(lambda: titled(api, "After recreation"))


def test_renewal_by_patch_before_expiry(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        [old] = hub.rows(PushSubscription)
        [before] = push_state(hub)["subscriptions"]
        assert old.renew_at < old.expires_at
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at - timedelta(seconds=1)))
        assert not [e for e in outlook.log() if e["method"] == "PATCH"]
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at + timedelta(seconds=1)))
        [patch] = [e for e in outlook.log() if e["method"] == "PATCH"]
        assert patch["path"] == f"/subscriptions/{before['id']}" and patch["status"] == 200
        assert set(patch["body"]) == {"expirationDateTime"}
        [after] = push_state(hub)["subscriptions"]
        assert after["id"] == before["id"] and after["expirationDateTime"] >= before["expirationDateTime"]
        [renewed] = hub.rows(PushSubscription)
        assert renewed.id == old.id and renewed.renew_at > old.renew_at and renewed.state == "active"
        # The same moment again renews nothing: each renewal once.
        hub.run(run_job(hub.services, "push-upkeep", old.renew_at + timedelta(seconds=1)))
        assert len([e for e in outlook.log() if e["method"] == "PATCH"]) == 1
        assert integration(api, integration_id)["push"]["mode"] == "push"


async def _integration_row(hub: HubServer, integration_id: str):
    async with hub.services.db.session() as s:
        return await s.get(Integration, integration_id)


def test_a_failed_renewal_polls_at_sync_interval_then_push_comes_back_after_repair(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        [sub] = hub.rows(PushSubscription)
        row = hub.run(_integration_row(hub, integration_id))
        assert hub.run(run_job(hub.services, "sync", row.last_sync + timedelta(seconds=300),
                               integration_id=integration_id)) == "push"
        outlook.control.post("/_control/faults", json={"path": "/v1.0/subscriptions", "status": 503, "count": 100})
        at = sub.renew_at + timedelta(seconds=1)
        hub.run(run_job(hub.services, "push-upkeep", at))
        push = integration(api, integration_id)["push"]
        assert push["mode"] == "polling" and push["state"] == "failing" and "syncInterval" in push["reason"]
        assert any("Repair push" in r for r in run_connection_test(api, integration_id)["recommendations"])
        assert hub.run(run_job(hub.services, "sync", at + timedelta(seconds=300), integration_id=integration_id)) \
            == "started"
        outlook.control.delete("/_control/faults")
        [failing] = hub.rows(PushSubscription)
        hub.run(run_job(hub.services, "push-upkeep", failing.renew_at + timedelta(seconds=1)))
        wait_until(lambda: (integration(api, integration_id)["push"] or {}).get("mode") == "push")


def test_disconnect_deletes_the_subscription_at_graph(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        [sub] = push_state(hub)["subscriptions"]
        assert api.delete(f"/api/integrations/{integration_id}").status_code == 200
        state = push_state(hub)
        assert state["subscriptions"] == [] and state["removed"] == [sub["id"]]
        assert [e["status"] for e in outlook.log() if e["method"] == "DELETE" and e["path"].startswith("/subscriptions")] \
            == [204]
        assert hub.rows(PushSubscription) == []
        assert notify(hub, {"value": [item(sub)]}).status_code == 404


def test_the_sandbox_refuses_what_graph_refuses(hub, outlook):
    with hub.client("manager") as api:
        connect_pushing(api)
    [sub] = push_state(hub)["subscriptions"]
    later = (datetime.now(timezone.utc) + timedelta(minutes=10080 + 5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = {"changeType": "created,updated,deleted", "resource": "me/events", "expirationDateTime": soon,
            "notificationUrl": f"{hub.url}/hooks/microsoft/x", "clientState": "s"}
    too_long = outlook.call("POST", "/subscriptions", json={**base, "expirationDateTime": later})
    assert too_long.status_code == 400 and "10080 minutes" in too_long.json()["error"]["message"]
    assert outlook.call("PATCH", f"/subscriptions/{sub['id']}", json={"expirationDateTime": later}).status_code == 400
    assert outlook.call("POST", "/subscriptions", json={**base, "notificationUrl": "http://hub.example/x"}).status_code == 400
    assert outlook.call("POST", "/subscriptions", json={**base, "changeType": "moved"}).status_code == 400
    assert outlook.call("POST", "/subscriptions", json={**base, "clientState": "x" * 129}).status_code == 400
    # An address that does not echo the token: Graph refuses to create the subscription.
    failed = outlook.call("POST", "/subscriptions", json={**base, "notificationUrl": f"{hub.url}/api/health"})
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "ValidationError"
    assert len(push_state(hub)["subscriptions"]) == 1
    gone = outlook.call("GET", "/subscriptions/2f0e5b5e-0000-4000-8000-000000000000")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    assert [s["id"] for s in outlook.call("GET", "/subscriptions").json()["value"]] == [sub["id"]]
    # An expired subscription is gone: it delivers nothing, and Graph no longer knows it.
    assert outlook.control.post("/_control/push/expire", json={"id": sub["id"]}).json() == {"expired": 1}
    outlook.create("After expiry", *JAN)
    assert not [d for d in push_state(hub)["deliveries"] if d["kind"] == "change"]
    assert outlook.call("GET", f"/subscriptions/{sub['id']}").status_code == 404


def test_the_sandbox_keeps_its_subscriptions_across_a_restart(tmp_path):
    from axhub_microsoft.sandbox import create_app
    from axhub_microsoft.sandbox_push import Subscription

    path = tmp_path / "microsoft.pickle"
    app = create_app()
    app.state.sandbox_state.attach(path)
    push = app.state.sandbox_state.objects["push"]()
    expires = datetime.now(timezone.utc) + timedelta(days=2)
    push.subs["s-1"] = Subscription("s-1", "me/events", None, ("created", "updated", "deleted"),
                                    "https://hub.example/hooks/microsoft/a", None, "secret", expires)
    app.state.sandbox_state.save()

    again = create_app()
    again.state.sandbox_state.attach(path)
    kept = again.state.sandbox_state.objects["push"]()
    [sub] = kept.listing()
    assert (sub.id, sub.client_state, sub.expiration, sub.notification_url) == \
        ("s-1", "secret", expires, "https://hub.example/hooks/microsoft/a")
    # The calendar still tells the (new instance's) subscriptions of its changes.
    assert again.state.sandbox_state.objects["outlook"]().on_change == kept.changed


def test_new_settings_move_the_subscription_to_the_calendar_now_synced(hub, outlook):
    with hub.client("manager") as api:
        integration_id = connect_pushing(api)
        [old] = push_state(hub)["subscriptions"]
        saved = api.put(f"/api/integrations/{integration_id}/settings",
                        json={"settings": {"calendarId": "AAMkAGI2TGuLBBB="}})
        assert saved.status_code == 200, saved.text
        hub.run(hub.services.tasks.drain())
        state = push_state(hub)
        # A PATCH cannot change what a subscription watches: a new one, then the old one deleted.
        [new] = state["subscriptions"]
        assert new["resource"] == "me/calendars/AAMkAGI2TGuLBBB=/events" and state["removed"] == [old["id"]]
        [sub] = hub.rows(PushSubscription)
        assert sub.provider_id == new["id"] and sub.resource == new["resource"] and sub.state == "active"
