"""Requests a client can send that once made the hub answer 5xx, or answer the wrong
thing: each now gets a 4xx in the spec's envelope with the field at fault."""

import json

import pytest

from axhub.testing import connect

JSON = {"content-type": "application/json"}


def error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code, body
    if field is not None:
        assert body["error"].get("field") == field, body
    return body["error"]


@pytest.mark.parametrize("depth", [33, 100_000])
def test_a_deeply_nested_body_is_a_400_naming_the_body(hub, depth):
    body = "[" * depth + "]" * depth
    with hub.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
        for method, path in [("post", "/api/events"), ("put", f"/api/integrations/{integration}/settings"),
                             ("post", f"/api/integrations/{integration}/sync")]:
            nested = '{"title": ' + body + "}" if method == "post" else '{"settings": ' + body + "}"
            response = api.request(method, path, content=nested, headers=JSON)
            error(response, 400, "VALIDATION_ERROR", "body")


def test_a_body_over_the_size_limit_is_a_413_not_an_internal_error(hub):
    with hub.client("manager") as api:
        big = json.dumps({"title": "x" * (2 * 1024 * 1024)})
        response = api.post("/api/events", content=big, headers=JSON)
        failure = error(response, 413, "PAYLOAD_TOO_LARGE")
        assert "1 MiB" in failure["message"]


@pytest.mark.parametrize("page", [2**63, 2**64, 10**30])
def test_pages_beyond_any_database_integer_are_refused(hub, page):
    with hub.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
        for path in ["/api/events", f"/api/integrations/{integration}/history"]:
            error(api.get(path, params={"page": page}), 400, "VALIDATION_ERROR", "page")
        # The largest page declared is accepted, and empty.
        ok = api.get("/api/events", params={"page": 1_000_000})
        assert ok.status_code == 200 and ok.json()["data"] == []


def test_limit_outside_its_declared_range_is_refused_on_every_list(hub):
    with hub.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
        for path in ["/api/events", f"/api/integrations/{integration}/history"]:
            for limit in (0, 501, 2**70):
                error(api.get(path, params={"limit": limit}), 400, "VALIDATION_ERROR", "limit")


@pytest.mark.parametrize("provider", ["google", "microsoft", "slack", "zoom"])
def test_a_malformed_oauth_code_is_an_oauth_error_that_keeps_the_state(hub, provider):
    from axhub.testing import follow_consent

    with hub.client("manager") as api:
        started = api.post(f"/api/integrations/{provider}/connect", json={}).json()["data"]
        for code in ["é-not-ascii", "a\u0000b", "line\nbreak"]:
            response = api.post(f"/api/integrations/{provider}/callback", json={"code": code, "state": started["state"]})
            failure = error(response, 400, "OAUTH_ERROR", "code")
            assert "Traceback" not in failure["message"] and "codec" not in failure["message"]
        # The state was not spent: the real code still connects.
        code = follow_consent(started["authUrl"])["code"]
        done = api.post(f"/api/integrations/{provider}/callback", json={"code": code, "state": started["state"]})
        assert done.status_code == 200, done.text


def test_a_non_json_body_on_a_json_route_is_a_415(hub):
    with hub.client("manager") as api:
        response = api.post("/api/events", content='{"title": "x"}', headers={"content-type": "text/plain"})
        error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        response = api.post("/api/events", content="title=x", headers={"content-type": "application/x-www-form-urlencoded"})
        error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        # JSON with a charset, or a vendor +json type, is JSON.
        fine = api.post("/api/events", content="{}", headers={"content-type": "application/json; charset=utf-8"})
        assert fine.status_code == 400 and fine.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_405_says_which_methods_the_route_allows(hub):
    with hub.client("manager") as api:
        response = api.patch("/api/integrations")
        error(response, 405, "METHOD_NOT_ALLOWED")
        assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET"}
        response = api.post("/api/integrations/providers")
        assert response.status_code == 405 and "GET" in response.headers["allow"]


def test_lists_in_bodies_have_a_cap(hub):
    with hub.client("manager") as api:
        attendees = [{"email": f"p{i}@example.com"} for i in range(1001)]
        body = {"title": "big", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z",
                "attendees": attendees}
        error(api.post("/api/events", json=body), 400, "VALIDATION_ERROR", "attendees")
        body["attendees"] = attendees[:1000]
        assert api.post("/api/events", json=body).status_code == 201


def test_the_longest_values_the_schema_allows_are_stored_and_one_more_is_a_400(hub):
    """The declared limits are the columns' widths: PostgreSQL refuses a longer value,
    and it once answered 500 to an attendance name of 256 characters."""
    with hub.client("manager") as api:
        name = "n" * 200
        integration = connect(api, "google", name=name)["integrationId"]
        assert api.get(f"/api/integrations/{integration}").json()["data"]["name"] == name
        body = {"title": "t" * 500, "location": "l" * 500, "start": "2030-01-01T10:00:00Z",
                "end": "2030-01-01T11:00:00Z", "organizer": {"email": "o@example.com", "name": name},
                "attendees": [{"email": "a@example.com", "name": name}]}
        created = api.post("/api/events", json=body)
        assert created.status_code == 201, created.text
        event = created.json()["data"]
        assert (event["title"], event["location"]) == (body["title"], body["location"])
        record = {"email": "a@example.com", "status": "present", "name": name}
        stored = api.put(f"/api/events/{event['id']}/attendance", json={"records": [record]})
        assert stored.status_code == 200, stored.text
        over = [("post", "/api/events", {**body, "location": "l" * 501}, "location"),
                ("put", f"/api/events/{event['id']}/attendance",
                 {"records": [{**record, "name": name + "n"}]}, "records[0].name"),
                ("post", "/api/integrations/google/connect", {"name": name + "n"}, "name")]
        for method, path, longer, field in over:
            error(api.request(method, path, json=longer), 400, "VALIDATION_ERROR", field)
