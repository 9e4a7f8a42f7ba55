"""Custom webhook headers are sealed by the vault at rest and shown back masked; sending
the mask back keeps the stored value."""

from sqlalchemy import select
from whtools import connect, create_event, endpoint

from axhub.db import Integration

SECRET = "Bearer s3cr3t-receiver-token"


def stored_settings(hub, integration_id):
    async def read():
        async with hub.services.db.session() as session:
            return (await session.scalars(select(Integration.settings).where(Integration.id == integration_id))).one()
    return hub.run(read())


def test_headers_are_sealed_masked_and_still_sent(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, headers={"Authorization": SECRET, "X-Tenant": "t1"})})["integrationId"]
    shown = api.get(f"/api/integrations/{integration}")
    assert SECRET not in shown.text and "t1" not in shown.text
    assert shown.json()["data"]["settings"]["webhooks"]["eventCreated"]["headers"] == {"Authorization": "********", "X-Tenant": "********"}
    assert api.get("/api/integrations").text.count(SECRET) == 0
    raw = str(stored_settings(live, integration))
    assert SECRET not in raw and "vault:" in raw
    create_event(api)
    (request,) = receiver.wait_for(1)
    assert request.headers["authorization"] == SECRET and request.headers["x-tenant"] == "t1"


def test_a_masked_value_sent_back_keeps_the_stored_one(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, headers={"Authorization": SECRET})})["integrationId"]
    shown = api.get(f"/api/integrations/{integration}").json()["data"]["settings"]["webhooks"]
    shown["eventCreated"]["headers"]["X-New"] = "fresh"
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": {"webhooks": shown}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["settings"]["webhooks"]["eventCreated"]["headers"] == {"Authorization": "********", "X-New": "********"}
    create_event(api)
    (request,) = receiver.wait_for(1)
    assert request.headers["authorization"] == SECRET and request.headers["x-new"] == "fresh"


def test_a_new_value_replaces_the_stored_one(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, headers={"Authorization": SECRET})})["integrationId"]
    response = api.put(f"/api/integrations/{integration}/settings",
                       json={"settings": {"webhooks": {"eventCreated": endpoint(receiver.url, headers={"Authorization": "Bearer new"})}}})
    assert response.status_code == 200, response.text
    create_event(api)
    (request,) = receiver.wait_for(1)
    assert request.headers["authorization"] == "Bearer new"


def test_a_mask_with_nothing_stored_is_refused_with_the_field(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url)})["integrationId"]
    response = api.put(f"/api/integrations/{integration}/settings",
                       json={"settings": {"webhooks": {"eventCreated": endpoint(receiver.url, headers={"Authorization": "********"})}}})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "settings.webhooks.eventCreated.headers.Authorization"
