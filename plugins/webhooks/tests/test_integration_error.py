"""After a message's last failed attempt, the other channels hear of it once: an
``integrationError`` notification reaches every other notifying plugin, and never
comes back through webhooks (a failing webhook reported by webhook would feed itself)."""

import pytest
from whtools import connect, create_event, deliver_due, endpoint, messages, settle, wait_until

from axhub.testing.notifier import NotificationRecorder
from axhub.testing.receiver import Receiver


@pytest.fixture
def hub_with_channel(make_hub):
    # Its own hub: the extra plugin must not outlive this test. No background worker:
    # each round is driven here, so the last attempt is known to be the last.
    server = make_hub({"AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PLUGINS": "webhooks", "AXHUB_DELIVERY_WORKER": "0",
                       "AXHUB_DELIVERY_RETRY_BASE": "0.05"})
    server.channel = NotificationRecorder().attach(server)
    return server


def test_the_last_failure_is_told_to_the_other_channels_once(hub_with_channel):
    hub = hub_with_channel
    with Receiver() as failing, Receiver() as errors:
        failing.script(500, 500)
        api = hub.client("manager")
        integration = connect(api, {"eventCreated": endpoint(failing.url, retryPolicy={"maxRetries": 1})})["integrationId"]
        # An endpoint for integrationError, in another webhook integration of the organisation.
        reporting = connect(api, {"integrationError": endpoint(errors.url)})["integrationId"]
        create_event(api)

        assert deliver_due(hub) == 1
        [m] = messages(api, integration)
        assert m["status"] == "pending" and m["attempts"] == 1
        settle(hub)
        assert [n.kind for n in hub.channel.heard] == ["eventCreated"]  # a retry is no error yet

        wait_until(lambda: deliver_due(hub))  # the retry, once due: the last attempt
        [m] = messages(api, integration)
        assert m["status"] == "failed" and m["attempts"] == 2
        settle(hub)
        errors_heard = [n for n in hub.channel.heard if n.kind == "integrationError"]
        assert len(errors_heard) == 1
        data = errors_heard[0].data
        assert data["integrationId"] == integration and data["provider"] == "webhooks"
        assert data["messageId"] == m["id"] and data["target"] == "eventCreated" and data["kind"] == "eventCreated"
        assert data["attempts"] == 2 and data["httpStatus"] == 500 and data["code"] == "WEBHOOK_FAILED"
        assert errors_heard[0].org_id == "org-1"

        last_error = api.get(f"/api/integrations/{integration}").json()["data"]["lastError"]
        assert last_error["code"] == "WEBHOOK_FAILED" and m["id"] in last_error["message"]

        # Told once: no round attempts the failed message again, the signal is marked
        # broadcast, and the webhook endpoint for integrationError got nothing.
        assert deliver_due(hub) == 0
        assert hub.run(hub.services.signals.redispatch()) == 0
        settle(hub)
        assert len([n for n in hub.channel.heard if n.kind == "integrationError"]) == 1
        assert len(failing.requests) == 2 and errors.requests == []
        assert messages(api, reporting) == []
