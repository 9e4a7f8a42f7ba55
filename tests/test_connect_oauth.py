"""The OAuth connection: authUrl with PKCE and state, the callback's guards, provider errors."""

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from axhub.testing import connect, follow_consent


def start(api, provider="google", **body):
    response = api.post(f"/api/integrations/{provider}/connect", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def callback(api, provider, code, state):
    return api.post(f"/api/integrations/{provider}/callback", json={"code": code, "state": state})


def assert_oauth_error(response):
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "OAUTH_ERROR"


def nothing_stored(api):
    assert api.get("/api/integrations").json()["data"] == []


def test_connect_answers_the_spec_shape_with_pkce_and_state(hub):
    with hub.client("manager") as api:
        data = start(api, scopes=["calendar.read", "calendar.write"], settings={"syncInterval": 600},
                     redirectUri="https://app.attendance-x.com/integrations/callback")
    assert set(data) == {"authUrl", "state", "expiresAt", "provider", "scopes"}
    assert data["provider"] == "google" and data["scopes"] == ["calendar.read", "calendar.write"]
    query = parse_qs(urlsplit(data["authUrl"]).query)
    assert query["state"] == [data["state"]]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == ["https://app.attendance-x.com/integrations/callback"]
    assert "https://www.googleapis.com/auth/calendar.events" in query["scope"][0]
    assert len(data["state"]) >= 32


def test_state_is_stored_hashed(hub):
    from sqlalchemy import select

    from axhub.db import OAuthState

    with hub.client("manager") as api:
        data = start(api)

    async def hashes():
        async with hub.services.db.session() as s:
            return list((await s.scalars(select(OAuthState.state_hash))).all())

    assert hub.run(hashes()) == [hashlib.sha256(data["state"].encode()).hexdigest()]


def test_full_flow_connects_with_user_info_and_permissions(hub):
    with hub.client("manager", user="user-9", name="Paul Martin", email="paul@techcorp.com") as api:
        data = connect(api, "google", scopes=["calendar.read"])
        assert data["status"] == "connected" and data["provider"] == "google"
        assert data["integrationId"].startswith("int-")
        assert data["permissions"] == ["read_calendar"]
        assert data["userInfo"] == {
            "id": "sandbox-user-1", "email": "marie.dubois@example.com", "name": "Marie Dubois",
            "avatar": "https://sandbox.axhub.invalid/avatars/marie.png",
        }
        listed = api.get("/api/integrations").json()["data"]
    assert len(listed) == 1
    assert listed[0]["connectedBy"] == {"id": "user-9", "name": "Paul Martin", "email": "paul@techcorp.com"}
    assert listed[0]["permissions"] == ["read_calendar"]


def test_replayed_state_is_refused(hub):
    with hub.client("manager") as api:
        data = start(api)
        back = follow_consent(data["authUrl"])
        assert callback(api, "google", back["code"], back["state"]).status_code == 200
        second = follow_consent(start(api)["authUrl"])  # a fresh code, the old state
        assert_oauth_error(callback(api, "google", second["code"], back["state"]))
        assert len(api.get("/api/integrations").json()["data"]) == 1


def test_forged_state_is_refused(hub):
    with hub.client("manager") as api:
        back = follow_consent(start(api)["authUrl"])
        response = callback(api, "google", back["code"], "forged-" + back["state"])
        assert_oauth_error(response)
        assert response.json()["error"]["field"] == "state"
        nothing_stored(api)


def test_state_of_another_user_is_refused(hub):
    with hub.client("manager", user="alice") as alice, hub.client("manager", user="bob") as bob:
        back = follow_consent(start(alice)["authUrl"])
        assert_oauth_error(callback(bob, "google", back["code"], back["state"]))
        nothing_stored(bob)
        # The failed attempt did not burn Alice's state.
        assert callback(alice, "google", back["code"], back["state"]).status_code == 200


def test_state_of_another_organisation_is_refused(hub):
    with hub.client("manager", org="org-a") as a, hub.client("manager", org="org-b") as b:
        back = follow_consent(start(a)["authUrl"])
        assert_oauth_error(callback(b, "google", back["code"], back["state"]))
        nothing_stored(b)


def test_state_issued_for_another_provider_is_refused(hub):
    with hub.client("manager") as api:
        back = follow_consent(start(api, "google")["authUrl"])
        other = next(p["slug"] for p in api.get("/api/integrations/providers").json()["data"]
                     if p["status"] == "loaded" and p["slug"] != "google" and "oauth" in p["capabilities"])
        assert_oauth_error(callback(api, other, back["code"], back["state"]))
        nothing_stored(api)


def test_expired_state_is_refused(make_hub):
    server = make_hub({"AXHUB_OAUTH_STATE_TTL": "1"})
    with server.client("manager") as api:
        back = follow_consent(start(api)["authUrl"])
        time.sleep(1.2)
        assert_oauth_error(callback(api, "google", back["code"], back["state"]))
        nothing_stored(api)


def test_provider_refusing_the_code_is_oauth_error_with_its_reason(hub):
    with hub.client("manager") as api:
        back = follow_consent(start(api)["authUrl"])
        response = callback(api, "google", "not-the-code-" + back["code"], back["state"])
        assert_oauth_error(response)
        assert response.json()["error"]["details"] == {"reason": "invalid_grant"}
        nothing_stored(api)


def test_provider_error_injected_at_the_token_endpoint(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sandbox:
        back = follow_consent(start(api)["authUrl"])
        sandbox.post("/_control/faults", json={"path": "/token", "status": 400, "body": {
            "error": "invalid_request", "error_description": "Missing required parameter: code_verifier"}})
        response = callback(api, "google", back["code"], back["state"])
        assert_oauth_error(response)
        assert "code_verifier" in response.json()["error"]["message"]
        assert response.json()["error"]["details"] == {"reason": "invalid_request"}
        nothing_stored(api)


def test_provider_down_at_the_token_endpoint_is_connection_error(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sandbox:
        back = follow_consent(start(api)["authUrl"])
        sandbox.post("/_control/faults", json={"path": "/token", "status": 503})
        response = callback(api, "google", back["code"], back["state"])
        assert response.status_code == 502 and response.json()["error"]["code"] == "CONNECTION_ERROR"
        nothing_stored(api)


def test_consent_denied_redirects_with_access_denied(hub):
    with hub.client("manager") as api:
        data = start(api)
        back = follow_consent(data["authUrl"], sandbox_consent="deny")
    assert back["error"] == "access_denied" and back["state"] == data["state"] and "code" not in back


def test_pkce_verifier_is_checked_by_the_provider(hub):
    """The hub sends the verifier bound to the state: the sandbox checks it against the
    challenge, so a code obtained for one connect cannot be redeemed with another's state."""
    with hub.client("manager") as api:
        first = follow_consent(start(api)["authUrl"])
        second = start(api)
        assert_oauth_error(callback(api, "google", first["code"], second["state"]))


@pytest.mark.parametrize("body,field", [
    ({"scopes": ["calendar.read", "teleport"]}, "scopes[1]"),
    ({"scopes": []}, "scopes"),
    ({"scopes": "calendar.read"}, "scopes"),
    ({"redirectUri": "javascript:alert(1)"}, "redirectUri"),
    ({"redirectUri": "/relative"}, "redirectUri"),
    ({"settings": {"syncInterval": 5}}, "settings.syncInterval"),
    ({"settings": {"calendarID": "x"}}, "settings.calendarID"),
    ({"settings": {"syncDirection": "sideways"}}, "settings.syncDirection"),
    ({"notifications": {"syncErrors": "yes"}}, "notifications.syncErrors"),
    ({"scope": ["calendar.read"]}, "scope"),
])
def test_bad_connect_requests_name_the_field(hub, body, field):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/google/connect", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {**response.json()["error"], "code": "VALIDATION_ERROR", "field": field}


def test_redirect_uri_allow_list(make_hub):
    server = make_hub({"AXHUB_REDIRECT_URIS": "https://app.attendance-x.com/"})
    with server.client("manager") as api:
        ok = api.post("/api/integrations/google/connect", json={"redirectUri": "https://app.attendance-x.com/cb"})
        bad = api.post("/api/integrations/google/connect", json={"redirectUri": "https://evil.example/cb"})
    assert ok.status_code == 200
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "redirectUri"


@pytest.mark.parametrize("body", [{"code": "x"}, {"state": "x"}, {"code": "", "state": "s"}, {"code": 1, "state": "s"},
                                  {"code": " \t\u2003", "state": "s"}])
def test_bad_callback_bodies_are_validation_errors(hub, body):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/google/callback", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    if "code" in body and "state" in body:
        assert response.json()["error"]["field"] == "code", response.text


def test_default_redirect_lands_on_the_hubs_hand_over_page(hub):
    import httpx

    with hub.client("manager") as api:
        data = start(api)
    location = httpx.get(data["authUrl"], follow_redirects=False).headers["location"]
    assert location.startswith(f"{hub.url}/oauth/google/callback?")
    page = httpx.get(location)
    assert page.status_code == 200 and data["state"] in page.text and "/api/integrations/google/callback" in page.text
    evil = httpx.get(f"{hub.url}/oauth/google/callback", params={"error": "x", "error_description": "<script>"})
    assert "<script>" not in evil.text
