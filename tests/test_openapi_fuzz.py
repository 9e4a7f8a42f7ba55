"""Schemathesis over the hub's own OpenAPI: requests generated from the schema, sent to
the running hub over loopback as each role, every check schemathesis has.

It fails on any 5xx, from valid and from invalid requests alike, and on any answer
outside its documented schema: status, content type, headers (``Allow`` included),
body.

Each case is sent twice per role: with the generated path ids (mostly unknown: the
404 paths) and with the ids of a real integration, event and webhook target, so the
handlers behind the lookups see the generated bodies and queries too.
"""

from __future__ import annotations

import tempfile
from datetime import datetime

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks

from axhub.api.app import create_app
from axhub.config import Config
from axhub.testing import connect

# The example budget: enough to reach every branch schemathesis tries per operation
# (boundaries, missing optionals, enums), small enough for CI on two databases.
EXAMPLES = 6
# PUT …/settings takes any provider's settings; which apply is the integration's provider's.
PROVIDER_OWN = ("settings", "webhooks", "syncDirection", "autoSync", "syncInterval")
SEEDED = {"start": "2030-01-01T10:00:00+00:00", "end": "2030-01-01T11:00:00+00:00"}


@pytest.fixture(scope="module")
def seeded(_hub_server):
    """The hub, wiped once, with one integration of each kind and an event."""
    hub = _hub_server
    hub.reset()
    with hub.client("manager") as api:
        google = connect(api, "google")["integrationId"]
        hooks = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
            "eventCreated": {"url": "https://receiver.example.com/hooks"}}}})
        assert hooks.status_code == 200, hooks.text
        event = api.post("/api/events", json={"title": "Fuzz", **SEEDED}).json()["data"]["id"]
    ids = {"integration_id": google, "event_id": event, "provider": "google"}
    return hub, ids, hooks.json()["data"]["integrationId"]


def _app_schema() -> dict:
    """The schema as the app builds it, in-process, with every installed plugin (the
    requests then go over the socket to the running hub)."""
    with tempfile.TemporaryDirectory() as data:
        config = Config.from_env({"AXHUB_DATA_DIR": data, "AXHUB_SANDBOX": "1"})
        return create_app(config).openapi_schema.to_schema()


SCHEMA = _app_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.config.seed = 20261207


@schema.hook("filter_body")
def _semantic(context, body) -> bool:
    """Rules across fields, which JSON Schema cannot state: an event, and a sync's date
    range, end after they start; an event lists an attendee once."""
    if not isinstance(body, dict):
        return True
    # A PUT or PATCH of the seeded event keeps the side it does not give.
    if not _ends_after_start(body.get("start", SEEDED["start"]), body.get("end", SEEDED["end"])):
        return False
    window = (body.get("options") or {}).get("dateRange") if isinstance(body.get("options"), dict) else None
    if isinstance(window, dict) and not _ends_after_start(window.get("start"), window.get("end")):
        return False
    attendees = body.get("attendees")
    emails = [a["email"].strip().lower() for a in attendees if isinstance(a, dict) and isinstance(a.get("email"), str)] \
        if isinstance(attendees, list) else []
    return len(emails) == len(set(emails))


def _ends_after_start(start, end) -> bool:
    if isinstance(start, str) and isinstance(end, str):
        try:
            return datetime.fromisoformat(end) > datetime.fromisoformat(start)
        except (ValueError, TypeError):
            pass
    return True


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, seeded):
    hub, ids, _ = seeded
    if not _semantic(None, case.body):
        return  # the explicit examples (boundaries) are not filtered by the hook
    generated = dict(case.path_parameters or {})
    real = {**generated, **{k: ids[k] for k in generated if k in ids}}
    # A member is refused before the request is read (403): once is enough. An admin
    # may do everything: generated ids (mostly 404s) and the real ones.
    calls = [("member", real), *(("admin", path) for path in ([generated, real] if real != generated else [real]))]
    if _negates_authorization(case):
        calls = [(None, real)]  # a missing or malformed token is the case: sent as generated, a 401
    headers = dict(case.headers or {})
    for role, path in calls:
        case.path_parameters = dict(path)
        if "event_id" in path and path["event_id"] == ids["event_id"] and case.method in ("PUT", "PATCH"):
            case.path_parameters["event_id"] = ids["event_id"] = _restore_event(hub, ids["event_id"])
        # The token goes into the case itself, not over it: schemathesis then judges the
        # request that was sent (a negative case whose only fault left is an unknown query
        # parameter, which the hub ignores, is not taken for an accepted invalid one).
        case.headers = headers if role is None else {**headers, "Authorization": f"Bearer {hub.token(role)}"}
        response = case.call_and_validate(
            base_url=hub.url,
            excluded_checks=[
                # A 4xx for a valid request is most often the state's (an unknown id, a
                # spent OAuth state, a sync already running); the limits the server
                # enforces are declared where JSON Schema can say them.
                openapi_checks.positive_data_acceptance,
            ],
        )
        _refused_valid_input(response, case)


def _negates_authorization(case) -> bool:
    """Whether the case's fault is its bearer token (left out or mangled): the one
    schemathesis derives from the declared security scheme."""
    if case.meta is None or not case.meta.generation.mode.is_negative:
        return False
    data = case.meta.phase.data
    names = {getattr(data, "parameter", None)}
    for mutation in getattr(data, "mutations", None) or ():
        # A dropped header is named by the value the mutation removed from `required`.
        names |= {mutation.parameter, mutation.original_value if isinstance(mutation.original_value, str) else None}
    return any(isinstance(name, str) and name.lower() == "authorization" for name in names)


def _restore_event(hub, event_id: str) -> str:
    """The seeded event back at SEEDED's times (the side a PUT or PATCH leaves out is
    then known), or made again if a DELETE case removed it: its id."""
    with hub.client("admin") as api:
        response = api.put(f"/api/events/{event_id}", json={"title": "Fuzz", **SEEDED})
        if response.status_code == 404:
            response = api.post("/api/events", json={"title": "Fuzz", **SEEDED})
        assert response.status_code in (200, 201), response.text
        return response.json()["data"]["id"]


def _refused_valid_input(response, case) -> None:
    """A request the schema says is valid must not be refused as invalid: every limit
    the server enforces on a request's shape is declared. What JSON Schema cannot say
    (an event ends after it starts) is kept out of the generated bodies by
    :func:`_semantic`; a provider's own settings are declared per provider."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code not in (400, 413, 415):
        return
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if case.operation.path.endswith("/settings") and (error.get("field") or "").startswith(PROVIDER_OWN):
        return  # the provider's own settings: declared per provider, on its connect operation
    if error.get("field") == "sendTestMessage" and "send no notifications" in (error.get("message") or ""):
        return  # a test message is for a provider that posts them: the integration's, not the schema's
    if "non-public address" in (error.get("message") or ""):
        return  # the operator's outbound rules (AXHUB_OUTBOUND_ALLOW): a deployment's, not the schema's
    if error.get("code") in ("VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE"):
        if _query_as_declared(case):
            raise AssertionError(f"{case.operation.label}: a schema-valid request was refused: {response.text[:400]}")


def _query_as_declared(case) -> bool:
    """Whether every query value meets its declared schema: schemathesis' coverage
    phase labels some values valid that are not (``0`` for a string with a pattern)."""
    declared = {p["name"]: p["schema"] for p in SCHEMA["paths"][case.path][case.method.lower()].get("parameters", [])
                if p["in"] == "query"}
    for name, value in (case.query or {}).items():
        if name in declared and not jsonschema_rs.validator_for(declared[name]).is_valid(value):
            return False
    return True
