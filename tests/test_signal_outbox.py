"""Signals are durable: written with the change that raised them, broadcast after the
commit, broadcast again (same id) when a plugin failed to take them, never for a change
that rolled back; and a plugin that stores deliveries dedupes a second broadcast."""

from axhub import ProviderInfo, hookimpl
from axhub.testing.receiver import Receiver

EVENT = {"title": "Réunion", "start": "2026-10-01T08:00:00Z", "end": "2026-10-01T09:00:00Z"}


class Listener:
    """A notifying plugin that can be told to fail."""

    def __init__(self) -> None:
        self.heard = []
        self.fail = False

    @hookimpl
    def provider_info(self):
        return ProviderInfo(slug="listener", name="Listener", type="communication", description="hears notifications")

    @hookimpl
    async def notify(self, notification):
        if self.fail:
            raise RuntimeError("the listener is down")
        self.heard.append(notification)


def test_a_signal_a_plugin_missed_is_broadcast_again_with_its_id(make_hub):
    with Receiver() as receiver:
        hub = make_hub({"AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PLUGINS": "webhooks"})
        listener = Listener()
        hub.services.plugins.register(listener, "listener")
        api = hub.client("manager")
        integration = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
            "eventCreated": {"url": receiver.url}}}}).json()["data"]["integrationId"]

        listener.fail = True
        event = api.post("/api/events", json=EVENT).json()["data"]
        receiver.wait_for(1)  # the other plugin got it and delivered
        hub.run(hub.services.tasks.drain())
        assert listener.heard == []

        listener.fail = False
        assert hub.run(hub.services.signals.redispatch()) == 1
        [heard] = listener.heard
        assert heard.kind == "eventCreated" and heard.data["id"] == event["id"] and heard.id
        hub.run(hub.services.tasks.drain())
        # The webhooks plugin heard it twice and stored it once: one message, one delivery.
        messages = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
        assert len(messages) == 1 and messages[0]["id"] == receiver.requests[0].headers["webhook-id"]
        assert len(receiver.requests) == 1
        assert hub.run(hub.services.signals.redispatch()) == 0  # now marked dispatched

        # A change that rolls back raises nothing.
        bad = api.patch(f"/api/events/{event['id']}", json={"end": "2020-01-01T00:00:00Z"})
        assert bad.status_code == 400
        good = api.patch(f"/api/events/{event['id']}", json={"title": "Réunion déplacée"})
        assert good.status_code == 200
        hub.run(hub.services.tasks.drain())
        assert [n.kind for n in listener.heard] == ["eventCreated", "eventUpdated"]
        assert listener.heard[1].id != heard.id
