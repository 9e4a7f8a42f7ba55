"""When retries fall due, under a clock the test moves (the hub runs no worker: each
round is driven here), and what 410, 429/503 and a long failure do to an endpoint."""

from datetime import datetime, timezone

from standardwebhooks import Webhook
from whtools import connect, create_event, deliver_due, endpoint, message, messages

from axhub.testing.receiver import Answer


def due_in(hub, m):
    return (datetime.fromisoformat(m["nextAttemptAt"].replace("Z", "+00:00")) - hub.clock.now).total_seconds()


def test_backoff_grows_by_the_multiplier_with_jitter(timed, receiver):
    api = timed.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, retryPolicy={"maxRetries": 3, "backoffMultiplier": 3})})["integrationId"]
    receiver.script(500, 500, 500, 200)
    create_event(api)
    base = 5.0  # AXHUB_DELIVERY_RETRY_BASE
    for n in range(3):
        assert deliver_due(timed) == 1
        [m] = messages(api, integration)
        assert m["status"] == "pending" and m["attempts"] == n + 1
        wait = due_in(timed, m)
        full = base * 3 ** n
        assert full / 2 <= wait <= full  # jittered below the full exponential wait
        timed.clock.advance(wait - 0.5)
        assert deliver_due(timed) == 0  # not due yet
        timed.clock.advance(0.5)
    assert deliver_due(timed) == 1
    assert message(api, integration, m["id"])["status"] == "delivered"
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1


def test_retry_after_is_honoured_within_bounds(timed, receiver):
    api = timed.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url)})["integrationId"]
    receiver.script(Answer(429, {"Retry-After": "42"}), Answer(503, {"Retry-After": "999999"}), Answer(503, {"Retry-After": "0"}))
    create_event(api)
    expected = [42, 600, 1]  # as asked; capped at AXHUB_DELIVERY_RETRY_MAX_WAIT; at least AXHUB_DELIVERY_RETRY_AFTER_MIN
    for wait in expected:
        deliver_due(timed)
        [m] = messages(api, integration)
        assert due_in(timed, m) == wait
        timed.clock.advance(wait)
    deliver_due(timed)
    assert messages(api, integration)[0]["status"] == "delivered", str(message(api, integration, m["id"])["attemptLog"])


def test_gone_disables_the_endpoint_until_the_user_enables_it(timed, receiver):
    api = timed.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url)})["integrationId"]
    receiver.script(410)
    create_event(api, title="first")
    deliver_due(timed)
    [gone] = messages(api, integration, status="failed")
    [target] = api.get(f"/api/integrations/{integration}/webhooks/endpoints").json()["data"]
    assert target["target"] == "eventCreated" and target["status"] == "disabled" and "410" in target["disabledReason"]
    create_event(api, title="second")
    deliver_due(timed)
    assert len(receiver.requests) == 1  # nothing sent to a disabled endpoint
    assert len(messages(api, integration, status="failed")) == 2  # but kept, for a replay
    enabled = api.post(f"/api/integrations/{integration}/webhooks/endpoints/eventCreated/enable")
    assert enabled.status_code == 200 and enabled.json()["data"]["status"] == "healthy"
    recovered = api.post(f"/api/integrations/{integration}/webhooks/recover", json={"since": "2000-01-01T00:00:00Z"})
    assert recovered.json()["data"]["recovered"] == 2
    deliver_due(timed)
    assert len(messages(api, integration, status="delivered")) == 2
    assert gone["id"] in {r.headers["webhook-id"] for r in receiver.requests}


def test_an_endpoint_failing_for_the_whole_period_is_disabled(timed, receiver):
    api = timed.client("manager")
    integration = connect(api, {"eventCreated": endpoint(receiver.url, retryPolicy={"maxRetries": 20, "backoffMultiplier": 10})})["integrationId"]
    receiver.default = Answer(500)
    try:
        create_event(api)
        deliver_due(timed)
        [target] = api.get(f"/api/integrations/{integration}/webhooks/endpoints").json()["data"]
        assert target["status"] == "failing"
        timed.clock.advance(1800)
        deliver_due(timed)
        assert api.get(f"/api/integrations/{integration}/webhooks/endpoints").json()["data"][0]["status"] == "failing"
        timed.clock.advance(1800)  # AXHUB_DELIVERY_DISABLE_AFTER=3600 without a success
        deliver_due(timed)
        assert api.get(f"/api/integrations/{integration}/webhooks/endpoints").json()["data"][0]["status"] == "disabled"
        timed.clock.advance(3600)
        sent = len(receiver.requests)
        deliver_due(timed)
        assert len(receiver.requests) == sent
        assert messages(api, integration)[0]["status"] == "failed"
    finally:
        receiver.default = Answer()


def test_rotation_signs_with_both_secrets_during_the_overlap(timed, receiver):
    api = timed.client("manager")
    connected = connect(api, {"eventCreated": endpoint(receiver.url)})
    old, integration = connected["signingSecret"], connected["integrationId"]
    rotated = api.post(f"/api/integrations/{integration}/webhooks/secret/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["data"]["signingSecret"]
    assert new.startswith("whsec_") and new != old
    create_event(api)
    deliver_due(timed)
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)
    timed.clock.advance(601)  # AXHUB_SIGNING_SECRET_OVERLAP=600
    create_event(api)
    deliver_due(timed)
    request = receiver.requests[-1]
    # Signed 10 minutes ahead of the wall clock (which verify() would refuse): compare
    # with the reference library's own signature at that time.
    at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), timezone.utc)
    expected = Webhook(new).sign(request.headers["webhook-id"], at, request.body.decode())
    assert request.headers["webhook-signature"] == expected
