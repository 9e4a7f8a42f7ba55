"""Signed deliveries to a real receiver on loopback, the message log, and replay."""

import json

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from whtools import connect, create_event, deliver_due, endpoint, message, messages, settle, wait_until

from axhub.testing.receiver import Answer


def test_an_event_is_delivered_signed_and_logged(live, receiver):
    api = live.client("manager")
    connected = connect(api, {"eventCreated": endpoint(receiver.url + "/hooks/created",
                                                       headers={"Authorization": "Bearer abc"})})
    secret = connected["signingSecret"]
    assert secret.startswith("whsec_")
    created = create_event(api)
    (request,) = receiver.wait_for(1)
    assert request.path == "/hooks/created"
    assert request.headers["authorization"] == "Bearer abc"
    assert request.headers["content-type"] == "application/json"
    # The reference library accepts the signature over exactly the bytes that were sent.
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "eventCreated" and payload["data"]["id"] == created["id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body + b" ", request.headers)
    integration = connected["integrationId"]
    [listed] = wait_until(lambda: [m for m in messages(api, integration) if m["status"] == "delivered"])
    assert listed["id"] == request.headers["webhook-id"] and listed["kind"] == "eventCreated"
    one = message(api, integration, listed["id"])
    assert one["payload"] == payload
    [attempt] = one["attemptLog"]
    assert attempt["outcome"] == "delivered" and attempt["httpStatus"] == 200 and attempt["responseExcerpt"] == "ok"
    # The secret was shown once: never again in the API.
    view = api.get(f"/api/integrations/{integration}").text
    assert secret not in view and secret.removeprefix("whsec_") not in view


def test_failures_are_retried_with_the_same_id_until_delivered(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventUpdated": endpoint(receiver.url, retryPolicy={"maxRetries": 3, "backoffMultiplier": 1})})["integrationId"]
    event = create_event(api)
    receiver.script(500, Answer(status=302, headers={"location": receiver.url + "/elsewhere"}), 200)
    api.patch(f"/api/events/{event['id']}", json={"title": "Renamed"})
    requests = receiver.wait_for(3)
    assert [r.status for r in requests] == [500, 302, 200]
    assert {r.path for r in requests} == {"/"}  # the redirect was not followed
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    [m] = wait_until(lambda: [m for m in messages(api, integration) if m["status"] == "delivered"])
    log = message(api, integration, m["id"])["attemptLog"]
    assert [a["httpStatus"] for a in log] == [500, 302, 200]
    assert "not followed" in log[1]["error"]


def test_out_of_retries_fails_the_message_and_reports_it(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, retryPolicy={"maxRetries": 1, "backoffMultiplier": 1})})["integrationId"]
    receiver.script(500, 502)
    create_event(api)
    [m] = wait_until(lambda: [m for m in messages(api, integration) if m["status"] == "failed"])
    assert m["attempts"] == 2 and m["lastStatus"] == 502
    assert len(receiver.requests) == 2
    error = api.get(f"/api/integrations/{integration}").json()["data"]["lastError"]
    assert error["code"] == "WEBHOOK_FAILED" and m["id"] in error["message"]
    # Replay: the failed message goes out again with its id, and is delivered.
    resent = api.post(f"/api/integrations/{integration}/webhooks/messages/{m['id']}/resend")
    assert resent.status_code == 202, resent.text
    wait_until(lambda: message(api, integration, m["id"])["status"] == "delivered")
    assert receiver.requests[-1].headers["webhook-id"] == m["id"]
    stats = api.get(f"/api/integrations/{integration}/webhooks/stats").json()["data"]
    assert stats["delivered"] == 1 and stats["attempts"] == 3 and stats["failedAttempts"] == 2
    assert api.get(f"/api/integrations/{integration}").json()["data"]["statistics"]["deliveries"] == stats


def test_recover_sends_every_failed_message_since_a_time(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, retryPolicy={"maxRetries": 0, "backoffMultiplier": 1})})["integrationId"]
    receiver.script(500, 500, 500)
    for i in range(3):
        create_event(api, title=f"E{i}")
    wait_until(lambda: len(messages(api, integration, status="failed")) == 3)
    bad = api.post(f"/api/integrations/{integration}/webhooks/recover", json={"since": "2024-01-01T00:00:00"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"
    done = api.post(f"/api/integrations/{integration}/webhooks/recover", json={"since": "2020-01-01T00:00:00Z"})
    assert done.status_code == 202 and done.json()["data"]["recovered"] == 3
    wait_until(lambda: len(messages(api, integration, status="delivered")) == 3)
    delivered = [r for r in receiver.requests if r.status == 200]
    assert len({r.headers["webhook-id"] for r in delivered}) == 3


def test_filters_event_types_and_attendance_change(live, receiver):
    api = live.client("manager")
    integration = connect(api, {
        "eventCreated": endpoint(receiver.url + "/created", filters={"eventTypes": ["conference"]}),
        "attendanceUpdated": endpoint(receiver.url + "/attendance", filters={"minAttendanceChange": 0.3}),
    })["integrationId"]
    create_event(api, type="training")
    event = create_event(api, type="conference")
    for statuses in (["present", "absent"], ["present", "late"], ["absent", "absent"]):
        records = [{"email": e, "status": s} for e, s in zip(("a@example.com", "b@example.com"), statuses)]
        assert api.put(f"/api/events/{event['id']}/attendance", json={"records": records}).status_code == 200
        settle(live)
    # Rates 0.5 (first: sent), 1.0 (moved 0.5: sent), 0.0 (moved 1.0: sent); the training event is filtered out.
    wait_until(lambda: len(messages(api, integration, status="delivered")) == 4)
    assert api.put(f"/api/events/{event['id']}/attendance",
                   json={"records": [{"email": "a@example.com", "status": "late"}]}).status_code == 200
    settle(live)  # 0.0 -> 0.5 moved enough; then 0.5 -> 0.5 by an unrelated change would not
    wait_until(lambda: len(messages(api, integration, status="delivered")) == 5)
    assert api.put(f"/api/events/{event['id']}/attendance",
                   json={"records": [{"email": "a@example.com", "status": "present"}]}).status_code == 200
    settle(live)
    assert len(messages(api, integration)) == 5
    paths = [r.path for r in receiver.wait_for(5)]
    assert paths.count("/created") == 1 and paths.count("/attendance") == 4
    # Two delivery lanes run at once, so arrival order need not be creation order: read
    # the payloads in the message log's order (newest first).
    received = {r.headers["webhook-id"]: r for r in receiver.requests}
    rates = [json.loads(received[m["id"]].body)["data"]["attendanceRate"]
             for m in reversed(messages(api, integration)) if received[m["id"]].path == "/attendance"]
    assert rates == [0.5, 1.0, 0.0, 0.5]


def test_message_routes_are_scoped_to_the_organisation_and_managers(live, receiver):
    api = live.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url)})["integrationId"]
    create_event(api)
    [m] = wait_until(lambda: messages(api, integration))
    other = live.client("admin", org="org-2")
    for path in ("messages", f"messages/{m['id']}", "stats", "endpoints"):
        response = other.get(f"/api/integrations/{integration}/webhooks/{path}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert other.post(f"/api/integrations/{integration}/webhooks/messages/{m['id']}/resend").status_code == 404
    assert other.post(f"/api/integrations/{integration}/webhooks/secret/rotate").status_code == 404
    member = live.client("member")
    assert member.get(f"/api/integrations/{integration}/webhooks/messages").status_code == 403
    assert api.get(f"/api/integrations/{integration}/webhooks/messages/msg_nope").status_code == 404
    page = api.get(f"/api/integrations/{integration}/webhooks/messages", params={"limit": 1}).json()
    assert page["success"] is True and page["meta"] == {"page": 1, "limit": 1, "total": 1, "totalPages": 1}


def test_a_non_public_destination_is_refused_at_send_time(make_hub, receiver):
    """A host name is saved (only its addresses say where it goes): on a hub whose
    allow-list is empty, ``localhost`` resolves to loopback when the request is made,
    and is refused then. (A loopback address written as such is refused at save.)"""
    hub = make_hub({"AXHUB_PLUGINS": "webhooks", "AXHUB_DELIVERY_WORKER": "0"})
    api = hub.client("manager")
    url = receiver.url.replace("127.0.0.1", "localhost")
    integration = connect(api, {"eventCreated": endpoint(url, retryPolicy={"maxRetries": 0, "backoffMultiplier": 1})})["integrationId"]
    create_event(api)
    deliver_due(hub)
    [m] = wait_until(lambda: messages(api, integration, status="failed"))
    assert "non-public" in m["lastError"]
    assert receiver.requests == []
