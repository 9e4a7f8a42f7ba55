"""The conformance suite every provider plugin runs (axhub.testing.conformance).

Outbound webhooks have no OAuth, no refresh and no provider to sandbox: the metadata
says so (no ``oauth``/``refresh`` capability) and those checks skip themselves; the
notifier checks deliver to a real receiver on loopback instead of a sandbox."""

import pytest

from axhub.testing.conformance import NotifierConformance, ProviderConformance


@pytest.fixture
def hub(live):
    """The hub whose SSRF guard lets deliveries reach the loopback receiver."""
    return live


class TestProviderConformance(ProviderConformance):
    provider = "webhooks"
    skip = {"sandbox": "the receivers are the customers' own endpoints: there is no provider to sandbox"}


class TestNotifierConformance(NotifierConformance):
    provider = "webhooks"
    notification = ("eventCreated", {"eventId": "evt-1", "title": "Kick-off"})
    refusal = 500  # webhooks retry every status but 410: with no retries left, a 500 is final

    @pytest.fixture(autouse=True)
    def _receiver(self, receiver):
        self.receiver = receiver

    def connect(self, hub, api):
        endpoint = {"enabled": True, "url": self.receiver.url + "/hooks",
                    "retryPolicy": {"maxRetries": 0, "backoffMultiplier": 1}}
        response = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {"eventCreated": endpoint}}})
        assert response.status_code == 200, response.text
        return response.json()["data"]["integrationId"]

    def refuse(self, hub):
        self.receiver.script(*[self.refusal] * 20)

    def sent(self, hub):
        return sum(1 for r in self.receiver.requests if r.status == 200)
