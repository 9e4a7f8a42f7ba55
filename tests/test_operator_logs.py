"""The lines `axhub serve` logs for its operator: one per request (method, path, status,
time, request id), one per failed sync and delivery with the integration and the spec's
code — never a secret — and a setting that quiets the access log."""

import os
import re
import time

import httpx

from axhub.testing import connect_synced, free_port, wait_until
from axhub.testing.processes import Processes
from axhub.testing.receiver import Receiver

FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}


def serve(tmp_path, new_database, *args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("AXHUB_SANDBOX", "AXHUB_PUBLIC_URL", "AXHUB_LOG_LEVEL")}
    base.update(AXHUB_DATA_DIR=str(tmp_path / "data"), AXHUB_DATABASE_URL=new_database(), AXHUB_SCHEDULER="0",
                AXHUB_OUTBOUND_ALLOW="127.0.0.1", AXHUB_DELIVERY_POLL="0.05", **env)
    procs = Processes(base)
    procs.env = base
    port = free_port()
    log = tmp_path / "serve.log"
    procs.serve(port, "--sandbox", *args, log=log)
    return procs, port, log


def lines(log, event):
    return [line for line in log.read_text().splitlines() if f"event={event} " in line]


def test_a_line_per_request_and_per_failure_without_secrets(tmp_path, new_database):
    procs, port, log = serve(tmp_path, new_database)
    token = procs.token(org="acme", role="manager")
    try:
        with procs.api(port, token) as api:
            answer = api.get("/api/integrations", headers={"X-Request-ID": "ops-42"})
            assert answer.headers["x-request-id"] == "ops-42"
            minted = api.get("/api/integrations/nope", params={"code": "s3cr3t-code"})
            assert minted.status_code == 404 and minted.headers["x-request-id"].startswith("req-")

            google = connect_synced(api, "google")
            httpx.post(f"http://127.0.0.1:{port}/sandbox/google/_control/faults",
                       json={"path": "/calendar/v3/calendars/primary/events", "method": "GET", "status": 403,
                             "body": FORBIDDEN}).raise_for_status()
            run = api.post(f"/api/integrations/{google}/sync", json={}).json()["data"]["syncId"]
            wait_until(lambda: api.get(f"/api/integrations/{google}/sync/{run}/status").json()["data"]["status"] == "failed")
            grants = httpx.get(f"http://127.0.0.1:{port}/sandbox/google/_control/tokens").json()

            with Receiver() as receiver:
                receiver.script(500)
                hooks = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {"eventCreated": {
                    "url": receiver.url + "/hooks", "retryPolicy": {"maxRetries": 0, "backoffMultiplier": 1}}}}})
                webhooks = hooks.json()["data"]["integrationId"]
                api.post("/api/events", json={"title": "Formation", "start": "2026-06-01T09:00:00Z",
                                              "end": "2026-06-01T10:00:00Z"}).raise_for_status()
                wait_until(lambda: lines(log, "delivery_failed"))
    finally:
        procs.close()

    text = log.read_text()
    requests = lines(log, "request")
    mine = [line for line in requests if "id=ops-42" in line]
    assert len(mine) == 1 and re.search(r"method=GET path=/api/integrations status=200 ms=[0-9.]+ id=ops-42", mine[0])
    assert any("path=/api/integrations/nope status=404" in line for line in requests)
    assert not any("/sandbox/" in line for line in requests)  # the hub calling its own sandboxes: DEBUG
    [failed] = lines(log, "sync_failed")
    assert f"integration={google} code=PERMISSION_DENIED provider=google run={run}" in failed
    [delivery] = lines(log, "delivery_failed")
    assert f"integration={webhooks} code=" in delivery and "provider=webhooks" in delivery and "attempts=1" in delivery
    # No secret anywhere: not the query, the caller's token, nor a provider grant.
    assert "s3cr3t-code" not in text and token not in text
    assert grants["everIssued"]
    assert not [secret for secret in grants["everIssued"] if secret in text]


def test_the_access_log_can_be_quieted(tmp_path, new_database):
    procs, port, log = serve(tmp_path, new_database, AXHUB_ACCESS_LOG="0")
    try:
        with procs.api(port, procs.token()) as api:
            assert api.get("/api/integrations").status_code == 200
    finally:
        procs.close()
    assert lines(log, "request") == []
