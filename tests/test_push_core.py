"""The core's side of push, with a small pushing provider of the test's own (registered
in a running hub, spoken to over real HTTP): the signals a plugin may name besides a
change (``revoked``, ``reauthorize``, ``removed``), a renewal in place, a plugin's
handshake answer, and the rule that a plugin speaks only for the subscription it
looked up. Google's channels are tested in plugins/google/tests/test_push.py."""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from axhub import InboundAnswer, ProviderInfo, Scope, Settings, Signal, Subscribed, hookimpl
from axhub.db import Integration, PushSignal, PushSubscription
from axhub.scheduler.jobs import run_job
from axhub.testing import wait_until


class PushySettings(Settings):
    pass


class Pushy:
    """Notifications are JSON ``{"id", "kind", "n", "other"}`` with the secret in
    ``X-Pushy-Secret``; ``{"challenge": …}`` is a handshake, echoed as text."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.renewed: list[str] = []
        self.removed: list[str] = []

    @hookimpl
    def provider_info(self) -> ProviderInfo:
        return ProviderInfo(slug="pushy", name="Pushy", type="webhook", description="A provider that pushes",
                            scopes=(Scope("events.read", ("events",), ("read_events",)),), default_scopes=("events.read",),
                            settings_type=PushySettings, capabilities=("push",))

    @hookimpl
    async def subscribe(self, ctx, connection, request):
        self.opened.append(request.id)
        return Subscribed(provider_id=f"p-{request.id}", resource="everything",
                          expires_at=datetime.now(timezone.utc) + timedelta(days=1))

    @hookimpl
    async def renew(self, ctx, connection, subscription, request):
        self.renewed.append(subscription.provider_id)  # in place, as Graph's PATCH
        return Subscribed(provider_id=subscription.provider_id, resource=subscription.resource,
                          expires_at=datetime.now(timezone.utc) + timedelta(days=2))

    @hookimpl
    async def unsubscribe(self, ctx, connection, subscription):
        self.removed.append(subscription.provider_id)

    @hookimpl
    async def receive(self, request, subscriptions):
        body = json.loads(request.body or b"{}")
        if "challenge" in body:
            return InboundAnswer(status=200, body=str(body["challenge"]).encode(), media_type="text/plain")
        if "resource" in body:  # app-level, as Zoom's and Slack's: every subscription watching it
            found = await subscriptions.by_resource(str(body["resource"]))
            if not found:
                return InboundAnswer.refused(404, "nobody watches it")
            return InboundAnswer(signals=tuple(Signal(kind=body["kind"], subscription=s.id, key=str(body["n"]),
                                                      detail="m-1") for s in found))
        sub = await subscriptions.by_provider_id(str(body.get("id")))
        if sub is None:
            return InboundAnswer.refused(404, "unknown")
        if not hmac.compare_digest(request.headers.get("x-pushy-secret", "").encode(), sub.secret.encode()):
            return InboundAnswer.refused(401, "bad secret")
        # "other": a subscription id the plugin did not look up; the core ignores it.
        return InboundAnswer(signals=(Signal(kind=body["kind"], subscription=body.get("other") or sub.id,
                                             key=str(body["n"])),))


@pytest.fixture
def pushy_hub(make_hub):
    server = make_hub({"AXHUB_PUSH": "auto", "AXHUB_PLUGINS": "google"})
    plugin = Pushy()
    server.services.plugins.register(plugin, "pushy")
    return server, plugin



def opened(hub, api) -> tuple[str, PushSubscription]:
    response = api.post("/api/integrations/pushy/connect", json={})
    assert response.status_code == 200, response.text
    integration_id = response.json()["data"]["integrationId"]
    hub.run(hub.services.tasks.drain())
    [sub] = hub.rows(PushSubscription)
    return integration_id, sub


def send(hub, sub, kind: str, n: int, **extra):
    secret = hub.services.cipher.open(sub.secret).decode()
    with hub.anonymous() as anon:
        return anon.post("/hooks/pushy/events", headers={"X-Pushy-Secret": secret},
                         content=json.dumps({"id": sub.provider_id, "kind": kind, "n": n, **extra}))


def test_a_handshake_is_answered_with_what_the_plugin_says(pushy_hub):
    hub, _ = pushy_hub
    with hub.anonymous() as anon:
        answer = anon.post("/hooks/pushy", content=json.dumps({"challenge": "abc123"}))
    assert answer.status_code == 200 and answer.text == "abc123"
    assert answer.headers["content-type"].startswith("text/plain")
    assert hub.rows(PushSignal) == []


def test_reauthorize_renews_in_place_and_removed_opens_a_new_one(pushy_hub):
    hub, plugin = pushy_hub
    with hub.client("manager") as api:
        _, sub = opened(hub, api)
        assert plugin.opened == [sub.id] and sub.provider_id == f"p-{sub.id}" and sub.expires_at is not None
        assert send(hub, sub, "reauthorize", 1).status_code == 200
        hub.run(hub.services.tasks.drain())
        [marked] = hub.rows(PushSubscription)
        hub.run(run_job(hub.services, "push-upkeep", marked.renew_at + timedelta(seconds=1)))
        [renewed] = hub.rows(PushSubscription)
        assert plugin.renewed == [sub.provider_id] and renewed.id == sub.id and renewed.expires_at > sub.expires_at
        assert send(hub, renewed, "removed", 2).status_code == 200
        hub.run(hub.services.tasks.drain())
        [marked] = hub.rows(PushSubscription)
        hub.run(run_job(hub.services, "push-upkeep", marked.renew_at + timedelta(seconds=1)))
        [reopened] = hub.rows(PushSubscription)
        assert plugin.renewed == [sub.provider_id]  # gone at the provider: opened anew, not renewed
        assert plugin.opened == [sub.id, reopened.id] and reopened.id != sub.id


def test_revoked_turns_the_integration_to_error_and_stops_its_subscriptions(pushy_hub):
    hub, plugin = pushy_hub
    with hub.client("manager") as api:
        integration_id, sub = opened(hub, api)
        # A signal naming a subscription the plugin did not look up is not stored.
        assert send(hub, sub, "changed", 1, other="sub-someone-else").status_code == 200
        hub.run(hub.services.tasks.drain())
        assert hub.rows(PushSignal) == []
        assert send(hub, sub, "revoked", 2).status_code == 200

        def errored():
            [row] = hub.rows(Integration)
            return row if row.status == "error" else None

        row = wait_until(errored)
        assert row.last_error == "INVALID_CREDENTIALS" and "reconnect" in row.last_error_message
        assert [s.state for s in hub.rows(PushSubscription)] == ["stopped"]
        # Stopped: its notifications are not the hub's any more.
        assert send(hub, sub, "changed", 3).status_code == 404
        view = api.get(f"/api/integrations/{integration_id}").json()["data"]
        assert view["status"] == "error" and view["lastError"]["code"] == "INVALID_CREDENTIALS"


def test_an_app_level_notification_finds_subscriptions_by_resource_and_ended_is_stored_once(pushy_hub):
    hub, _ = pushy_hub
    with hub.client("manager") as api:
        _, sub = opened(hub, api)
        with hub.anonymous() as anon:
            assert anon.post("/hooks/pushy", content=json.dumps({"resource": "nothing", "kind": "ended", "n": 1})
                             ).status_code == 404
            for _ in range(2):  # the same notification twice
                answer = anon.post("/hooks/pushy", content=json.dumps({"resource": "everything", "kind": "ended",
                                                                       "n": 7}))
                assert answer.status_code == 200
        hub.run(hub.services.tasks.drain())
        [signal] = hub.rows(PushSignal)
        assert (signal.kind, signal.subscription_id, signal.detail) == ("ended", sub.id, "m-1")
        assert [s.state for s in hub.rows(PushSubscription)] == ["active"]  # heard through it: confirmed


def test_disconnect_removes_the_subscription_at_the_provider_first(pushy_hub):
    hub, plugin = pushy_hub
    with hub.client("manager") as api:
        integration_id, sub = opened(hub, api)
        assert api.delete(f"/api/integrations/{integration_id}").status_code == 200
        assert plugin.removed == [sub.provider_id] and hub.rows(PushSubscription) == []
