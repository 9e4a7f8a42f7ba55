"""An operator who allows https destinations only (``AXHUB_OUTBOUND_HTTPS_ONLY``) has an
http URL refused when it is saved, naming the field; an http endpoint saved before the
rule was switched on still reads, and its messages fail at the guard instead."""

import pytest
from cryptography.fernet import Fernet
from whtools import connect, create_event, deliver_due, endpoint, message, messages

ALLOW = {"AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PLUGINS": "webhooks", "AXHUB_DELIVERY_WORKER": "0"}
HTTPS_ONLY = {**ALLOW, "AXHUB_OUTBOUND_HTTPS_ONLY": "1"}
FIELD = "settings.webhooks.eventCreated.url"


@pytest.fixture
def strict(make_hub):
    return make_hub(HTTPS_ONLY)


def assert_refused(response):
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == FIELD, error
    assert "https" in error["message"], error


def test_an_http_url_is_refused_at_connect_and_at_put_settings(strict):
    api = strict.client("manager")
    assert_refused(api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
        "eventCreated": endpoint("http://hooks.example.com/in")}}}))
    assert api.get("/api/integrations").json()["data"] == []

    integration = connect(api, {"eventCreated": endpoint("https://hooks.example.com/in")})["integrationId"]
    before = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]
    assert_refused(api.put(f"/api/integrations/{integration}/settings", json={"settings": {"webhooks": {
        "eventCreated": endpoint("http://hooks.example.com/in")}}}))
    assert api.get(f"/api/integrations/{integration}").json()["data"]["settings"] == before


def test_an_http_url_is_accepted_when_the_operator_allows_it(make_hub):
    api = make_hub(ALLOW).client("manager")
    connect(api, {"eventCreated": endpoint("http://hooks.example.com/in")})


def test_an_http_endpoint_saved_before_the_rule_reads_but_is_not_sent_to(make_hub, new_database):
    database, keys = new_database(), {"AXHUB_VAULT_KEYS": Fernet.generate_key().decode()}  # one hub after the other
    before = make_hub({**ALLOW, **keys}, database_url=database)
    api = before.client("manager")
    integration = connect(api, {"eventCreated": endpoint("http://127.0.0.1:9/in")})["integrationId"]
    before.stop()

    strict = make_hub({**HTTPS_ONLY, **keys}, database_url=database)
    api = strict.client("manager")
    assert api.get(f"/api/integrations/{integration}").status_code == 200
    create_event(api)
    assert deliver_due(strict) == 1
    [m] = messages(api, integration)
    assert m["status"] == "failed"
    [attempt] = message(api, integration, m["id"])["attemptLog"]
    assert attempt["httpStatus"] is None and "https" in attempt["error"]
    assert strict.client("admin").delete(f"/api/integrations/{integration}").status_code == 200
