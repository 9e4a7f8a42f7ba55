"""PUT /settings refuses a webhook configuration that could not work, naming the field."""

import pytest
from whtools import connect, endpoint

GOOD = "https://hooks.example.com/in"


@pytest.mark.parametrize("webhooks, field", [
    ({"eventCreated": endpoint("ftp://hooks.example.com/")}, "settings.webhooks.eventCreated.url"),
    ({"eventCreated": endpoint("hooks.example.com/in")}, "settings.webhooks.eventCreated.url"),
    ({"eventCreated": endpoint("https://user:pw@hooks.example.com/")}, "settings.webhooks.eventCreated.url"),
    # Hosts urlsplit cannot read: a bracketed one that is no IPv6 address, a fullwidth solidus.
    ({"eventCreated": endpoint("HTTP://[0]")}, "settings.webhooks.eventCreated.url"),
    ({"eventCreated": endpoint("https://[1.2.3.4]/in")}, "settings.webhooks.eventCreated.url"),
    ({"eventCreated": endpoint("https://hooks\uff0fexample.com/in")}, "settings.webhooks.eventCreated.url"),
    ({"eventCreated": endpoint(GOOD, headers={"Host": "x"})}, "settings.webhooks.eventCreated.headers.Host"),
    ({"eventCreated": endpoint(GOOD, headers={"Content-Length": "1"})}, "settings.webhooks.eventCreated.headers.Content-Length"),
    ({"eventCreated": endpoint(GOOD, headers={"Webhook-Signature": "v1,x"})}, "settings.webhooks.eventCreated.headers.Webhook-Signature"),
    ({"eventCreated": endpoint(GOOD, headers={"X-A": "b\r\nInjected: 1"})}, "settings.webhooks.eventCreated.headers.X-A"),
    ({"eventCreated": endpoint(GOOD, headers={f"X-{i}": "v" for i in range(33)})}, "settings.webhooks.eventCreated.headers"),
    ({"eventCreated": endpoint(GOOD, headers={"X A": "b"})}, "settings.webhooks.eventCreated.headers"),
    ({"eventCreated": endpoint(GOOD, headers={"X-" + "a" * 255: "b"})}, "settings.webhooks.eventCreated.headers"),
    ({"eventCreated": endpoint(GOOD, headers={"X-A": "b" * 8193})}, "settings.webhooks.eventCreated.headers.X-A"),
    ({"eventCreated": endpoint(GOOD, headers={"X-A": "é"})}, "settings.webhooks.eventCreated.headers.X-A"),
    ({"eventCreated": endpoint(GOOD, retryPolicy={"maxRetries": -1})}, "settings.webhooks.eventCreated.retryPolicy.maxRetries"),
    ({"eventCreated": endpoint(GOOD, retryPolicy={"maxRetries": 1000})}, "settings.webhooks.eventCreated.retryPolicy.maxRetries"),
    ({"eventCreated": endpoint(GOOD, retryPolicy={"backoffMultiplier": 0.5})}, "settings.webhooks.eventCreated.retryPolicy.backoffMultiplier"),
    ({"eventCreated": endpoint(GOOD, filters={"minAttendanceChange": 2})}, "settings.webhooks.eventCreated.filters.minAttendanceChange"),
    ({"eventExploded": endpoint(GOOD)}, "settings.webhooks"),
])
def test_bad_configurations_are_refused_with_the_field(live, webhooks, field):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(GOOD)})["integrationId"]
    before = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": {"webhooks": webhooks}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"].startswith(field), error
    assert api.get(f"/api/integrations/{integration}").json()["data"]["settings"] == before


def test_the_spec_example_is_accepted(live):
    api = live.client("manager")
    integration = connect(api, {})["integrationId"]
    spec = {
        "eventCreated": {"enabled": True, "url": "https://api.external-service.com/webhooks/event-created",
                         "headers": {"Authorization": "Bearer token", "Content-Type": "application/json"},
                         "retryPolicy": {"maxRetries": 3, "backoffMultiplier": 2}},
        "attendanceUpdated": {"enabled": True, "url": "https://api.external-service.com/webhooks/attendance",
                              "filters": {"eventTypes": ["training", "conference"], "minAttendanceChange": 0.1}},
    }
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": {"webhooks": spec}})
    assert response.status_code == 200, response.text
    saved = response.json()["data"]["settings"]["webhooks"]
    assert saved["attendanceUpdated"]["filters"]["minAttendanceChange"] == 0.1
    assert saved["eventCreated"]["retryPolicy"] == {"maxRetries": 3, "backoffMultiplier": 2}


def test_the_spec_webhooks_block_is_accepted_at_the_top_level(live):
    """The spec's "Configuration des webhooks" puts ``webhooks`` at the top of the body."""
    api = live.client("manager")
    integration = connect(api, {})["integrationId"]
    block = {"eventCreated": {"enabled": True, "url": "https://api.external-service.com/webhooks/event-created",
                              "headers": {"Authorization": "Bearer token"}, "retryPolicy": {"maxRetries": 3, "backoffMultiplier": 2}}}
    response = api.put(f"/api/integrations/{integration}/settings", json={"webhooks": block})
    assert response.status_code == 200, response.text
    saved = response.json()["data"]["settings"]["webhooks"]["eventCreated"]
    assert saved["url"] == block["eventCreated"]["url"] and saved["headers"] == {"Authorization": "********"}
    bad = api.put(f"/api/integrations/{integration}/settings", json={"webhooks": {"eventCreated": endpoint("http://10.0.0.1/")}})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "webhooks.eventCreated.url", bad.text
    assert api.get(f"/api/integrations/{integration}").json()["data"]["settings"]["webhooks"]["eventCreated"]["url"] == saved["url"]

