"""Small steps the webhook tests share: connect, raise events, read the message log."""

from axhub.testing import wait_until  # noqa: F401 - the tests import it from here

EVENT = {"title": "Formation sécurité", "start": "2024-03-15T10:00:00Z", "end": "2024-03-15T12:00:00Z",
         "timezone": "Europe/Paris", "type": "training",
         "attendees": [{"email": "a@example.com"}, {"email": "b@example.com"}]}


def endpoint(url, **extra):
    return {"enabled": True, "url": url, **extra}


def connect(api, webhooks):
    response = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": webhooks}})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create_event(api, **fields):
    response = api.post("/api/events", json={**EVENT, **fields})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def messages(api, integration, **params):
    response = api.get(f"/api/integrations/{integration}/webhooks/messages", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def message(api, integration, msg_id):
    response = api.get(f"/api/integrations/{integration}/webhooks/messages/{msg_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def settle(hub):
    """Every signal raised so far has reached ``notify`` (and stored its messages)."""
    hub.run(hub.services.tasks.drain())


def deliver_due(hub):
    """One worker round at the hub's clock: how many attempts it made."""
    settle(hub)
    return hub.run(hub.services.worker.run_due())
