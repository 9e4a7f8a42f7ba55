"""The conformance suite every provider plugin runs (axhub.testing.conformance)."""

from datetime import datetime, timedelta, timezone

from axhub.testing.conformance import NotifierConformance, ProviderConformance


class TestProviderConformance(ProviderConformance):
    provider = "slack"


class TestNotifierConformance(NotifierConformance):
    provider = "slack"
    connect_body = {"settings": {"channels": {"default": "#general"}}}
    notification = ("eventReminder", {"eventId": "evt-1", "title": "Kick-off",
                                      "start": (datetime.now(timezone.utc) + timedelta(minutes=15)).isoformat()})
    send_path = "/api/chat.postMessage"

    def sent(self, hub):
        return len(hub.sandbox(self.provider).get("/_control/messages").json()["messages"])
