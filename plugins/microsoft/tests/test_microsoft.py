"""The Microsoft 365 plugin through the hub's public API, against its sandbox."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from axhub.testing import begin_connect, connect_synced, follow_consent

CALLBACK = "https://app.example.com/integrations/callback"
SPEC_SETTINGS = {
    "calendarId": "primary",
    "teamsIntegration": {
        "enabled": True,
        "autoCreateMeetings": True,
        "defaultMeetingSettings": {"allowAnonymous": False, "recordAutomatically": False, "allowTranscription": True},
    },
    "outlookSettings": {"categoryColor": "blue", "importance": "normal", "showAs": "busy"},
}





start = partial(begin_connect, provider="microsoft", redirectUri=CALLBACK)

def stats(hub) -> dict:
    with hub.sandbox("microsoft") as sb:
        return sb.get("/_control/stats").json()


def control(hub, path: str, body: dict | None = None) -> None:
    with hub.sandbox("microsoft") as sb:
        assert sb.post(f"/_control/{path}", json=body or {}).status_code == 200


def test_provider_is_listed(hub):
    with hub.client("admin") as api:
        providers = {p["slug"]: p for p in api.get("/api/integrations/providers").json()["data"]}
    ms = providers["microsoft"]
    assert ms["status"] == "loaded" and ms["type"] == "calendar"
    assert {"oauth", "pkce", "refresh"} <= set(ms["capabilities"])
    scopes = {s["name"]: s for s in ms["scopes"]}
    assert scopes["meetings.create"]["providerScopes"] == ["OnlineMeetings.ReadWrite"]
    assert scopes["teams.messages"]["permissions"] == ["send_messages"]


@pytest.mark.parametrize("scope_format", ["qualified", "short"])
def test_connect_end_to_end(hub, scope_format):
    control(hub, "graph", {"scopeFormat": scope_format})
    with hub.client("manager") as api:
        started = start(api, scopes=["calendar.read", "calendar.write", "events.manage", "meetings.create"])
        url = urlsplit(started["authUrl"])
        query = parse_qs(url.query)
        assert url.path.endswith("/microsoft/common/oauth2/v2.0/authorize")
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        asked = query["scope"][0].split(" ")
        assert {"offline_access", "openid", "User.Read", "Calendars.Read", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite"} <= set(asked)
        back = follow_consent(started["authUrl"])
        done = api.post("/api/integrations/microsoft/callback", json=back)
        assert done.status_code == 200, done.text
        data = done.json()["data"]
        assert data["status"] == "connected"
        assert data["userInfo"] == {"id": "4f6e1c2a-9b3d-4e8f-a7c5-1d2e3f4a5b6c",
                                    "email": "marie.dubois@example.com", "name": "Marie Dubois"}  # no avatar
        assert sorted(data["permissions"]) == ["create_meetings", "manage_events", "read_calendar", "write_calendar"]
        listed = api.get(f"/api/integrations/{data['integrationId']}").json()["data"]
        assert listed["provider"] == "microsoft" and listed["type"] == "calendar"
    counters = stats(hub)["counters"]
    assert counters["authorize"] == 1 and counters["token.authorization_code"] == 1 and counters["graph.me"] == 1


def test_tenant_comes_from_the_environment(make_hub):
    hub = make_hub({"AXHUB_MICROSOFT_TENANT": "contoso.onmicrosoft.com"})
    with hub.client("manager") as api:
        started = start(api)
        assert "/microsoft/contoso.onmicrosoft.com/oauth2/v2.0/authorize?" in started["authUrl"]
        back = follow_consent(started["authUrl"])
        done = api.post("/api/integrations/microsoft/callback", json=back)
        assert done.status_code == 200, done.text


def test_bad_tenant_is_an_operator_error(make_hub):
    hub = make_hub({"AXHUB_MICROSOFT_TENANT": "not a tenant"})
    with hub.client("manager") as api:
        response = api.post("/api/integrations/microsoft/connect", json={"redirectUri": CALLBACK})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "PROVIDER_NOT_SUPPORTED" and "AXHUB_MICROSOFT_TENANT" in error["message"]


def test_token_exchange_refused(hub):
    control(hub, "faults", {"path": "/common/oauth2/v2.0/token", "status": 400})
    with hub.client("manager") as api:
        started = start(api)
        back = follow_consent(started["authUrl"])
        response = api.post("/api/integrations/microsoft/callback", json=back)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "OAUTH_ERROR"
    assert error["details"]["reason"] == "invalid_grant"
    # The AADSTS line, without the trace and correlation ids Entra ID appends.
    assert "AADSTS70008" in error["message"] and "Trace ID" not in error["message"]


def test_bad_code(hub):
    with hub.client("manager") as api:
        started = start(api)
        back = follow_consent(started["authUrl"])
        response = api.post("/api/integrations/microsoft/callback", json={"code": "not-a-code", "state": back["state"]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "OAUTH_ERROR" and error["details"]["reason"] == "invalid_grant"
    assert "AADSTS70000" in error["message"]


def test_sandbox_token_error_shape(hub):
    with hub.sandbox("microsoft") as sb:
        response = sb.post("/common/oauth2/v2.0/token", data={
            "client_id": "axhub-sandbox-microsoft", "client_secret": "wrong", "grant_type": "authorization_code", "code": "x"})
        assert response.status_code == 401
        body = response.json()
        assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
        assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)
        assert body["error_description"].startswith("AADSTS7000215: ")
        bad = sb.get("/not_a_tenant!/oauth2/v2.0/authorize", params={"client_id": "axhub-sandbox-microsoft"})
        assert bad.status_code == 400 and "AADSTS90002" in bad.text


def test_access_denied(hub):
    with hub.client("manager") as api:
        started = start(api)
    back = follow_consent(started["authUrl"], sandbox_consent="deny")
    assert back["error"] == "access_denied" and back["error_subcode"] == "cancel"
    assert back["error_description"].startswith("AADSTS65004")
    assert back["state"] == started["state"] and "code" not in back


def test_refresh_rotates_the_refresh_token(hub):
    control(hub, "config", {"accessTokenTtl": 10})  # inside the refresh margin: due at once
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        before = stats(hub)["counters"].get("token.refresh_token", 0)  # the initial sync may have refreshed
        for expected in (1, 2):
            result = api.post(f"/api/integrations/{integration}/test").json()["data"]
            assert result["connectionStatus"] == "healthy", result
            current = stats(hub)
            assert current["counters"]["token.refresh_token"] == before + expected
            # Rotation: each refresh killed the token it used, and the hub kept the new one.
            assert current["liveRefreshTokens"] == 1


def test_dead_refresh_token(hub):
    control(hub, "config", {"accessTokenTtl": 10})
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        control(hub, "revoke-all")
        control(hub, "expire-access-tokens")
        result = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert result["connectionStatus"] == "unhealthy"
        assert result["lastError"]["code"] == "INVALID_CREDENTIALS"
        assert api.get(f"/api/integrations/{integration}").json()["data"]["status"] == "error"


def test_connection_test_shape(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK}, **SPEC_SETTINGS)
        response = api.post(f"/api/integrations/{integration}/test")
        assert response.status_code == 200
        data = response.json()["data"]
    assert data["connectionStatus"] == "healthy"
    assert data["permissions"] == {"read_calendar": True, "write_calendar": True, "manage_events": True}
    assert data["responseTime"].endswith("ms") and data["lastError"] is None
    # Graph sends no remaining-count headers and documents no daily quota: the spec's
    # keys are there, empty, beside the hub's own count of calls.
    limits = data["apiLimits"]
    assert {k: limits[k] for k in ("remaining", "resetAt", "dailyLimit")} == {"remaining": None, "resetAt": None, "dailyLimit": None}
    assert limits["callsToday"] >= 1
    assert 'Calendar "Calendar" is reachable' in data["recommendations"]
    # Teams options were asked for without the meetings.create scope.
    assert any("meetings.create" in r for r in data["recommendations"])


def test_connection_test_reports_graph_throttling(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        control(hub, "graph", {"throttle": {"limit": 5, "windowSeconds": 60}})  # connect's /me is not counted
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "healthy"  # /me + calendar: 2 of 5
        assert not any("throttling limit" in r for r in data["recommendations"])
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "healthy"
        assert any("at 80% of its throttling limit" in r for r in data["recommendations"]), data  # 4 of 5
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "unhealthy"
        assert data["lastError"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert stats(hub)["counters"]["graph.throttled"] == 1


def test_graph_429_fault_with_fractional_retry_after(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        control(hub, "faults", {"path": "/v1.0/me", "status": 429, "headers": {"Retry-After": "0.5"}})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "unhealthy"
        assert data["lastError"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert "Please retry again later." in data["lastError"]["message"]
        # Throttling is not a broken grant: the integration stays connected.
        assert api.get(f"/api/integrations/{integration}").json()["data"]["status"] == "connected"
    with hub.sandbox("microsoft") as sb:
        sb.post("/_control/faults", json={"path": "/v1.0/me", "status": 429})
        raw = sb.get("/v1.0/me")
        assert raw.status_code == 429 and float(raw.headers["retry-after"]) == 2.128
        assert raw.json()["error"]["code"] == "TooManyRequests"
        assert {"date", "request-id", "client-request-id"} <= set(raw.json()["error"]["innerError"])


def test_graph_401_is_invalid_credentials(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        control(hub, "faults", {"path": "/v1.0/me", "status": 401})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert data["lastError"]["code"] == "INVALID_CREDENTIALS"
    with hub.sandbox("microsoft") as sb:
        raw = sb.get("/v1.0/me")
        assert raw.status_code == 401 and raw.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert raw.json()["error"]["message"] == "Access token is empty."


def test_unknown_calendar_and_personal_account(hub):
    control(hub, "graph", {"onlineMeetingProviders": ["skypeForConsumer"]})
    with hub.client("manager") as api:
        settings = {"teamsIntegration": {"enabled": True}}
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK}, **settings)
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert any("Teams meetings are not available" in r for r in data["recommendations"]), data
        other = {"settings": {"calendarId": "AAMkAGI2TGuLBBB="}}
        assert api.put(f"/api/integrations/{integration}/settings", json=other).status_code == 200
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert 'Calendar "Formations" is reachable' in data["recommendations"]
        assert api.put(f"/api/integrations/{integration}/settings", json={"settings": {"calendarId": "AAMkNope="}}).status_code == 200
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "unhealthy"
        assert "The specified object was not found in the store." in data["lastError"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"settings": {"outlookSettings": {"importance": "urgent"}}}, "settings.outlookSettings.importance"),
        ({"settings": {"outlookSettings": {"showAs": "away"}}}, "settings.outlookSettings.showAs"),
        ({"settings": {"outlookSettings": {"categoryColor": "pink"}}}, "settings.outlookSettings.categoryColor"),
        ({"settings": {"teamsIntegration": {"autoCreateMeetings": True}}}, "settings.teamsIntegration.autoCreateMeetings"),
        ({"settings": {"teamsIntegration": {"defaultMeetingSettings": {"allowAnonymous": "yes"}}}},
         "settings.teamsIntegration.defaultMeetingSettings.allowAnonymous"),
        ({"settings": {"teamsChannel": {"teamId": "general", "channelId": "19:abc@thread.tacv2"}}}, "settings.teamsChannel.teamId"),
        ({"settings": {"teamsChannel": {"teamId": "02bd9fd6-8f93-4758-87c3-1fb73740a315", "channelId": "general"}}},
         "settings.teamsChannel.channelId"),
        ({"settings": {"teamsChannel": {"teamId": "02bd9fd6-8f93-4758-87c3-1fb73740a315"}}}, "settings.teamsChannel.channelId"),
        ({"settings": {"calendarId": ""}}, "settings.calendarId"),
        ({"settings": {"outlookSettings": {"colour": "blue"}}}, "settings.outlookSettings.colour"),
        ({"syncInterval": 10}, "syncInterval"),
    ],
)
def test_settings_validation(hub, body, field):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        response = api.put(f"/api/integrations/{integration}/settings", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == field, error


def test_spec_settings_round_trip(hub):
    channel = {"teamId": "02bd9fd6-8f93-4758-87c3-1fb73740a315", "channelId": "19:09fc54a3141a45d0bc769cf506d2e079@thread.tacv2"}
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK}, **SPEC_SETTINGS)
        response = api.put(f"/api/integrations/{integration}/settings", json={"settings": {"teamsChannel": channel}, "syncInterval": 600})
        assert response.status_code == 200, response.text
        settings = response.json()["data"]["settings"]
    assert settings["teamsIntegration"] == SPEC_SETTINGS["teamsIntegration"]
    assert settings["outlookSettings"] == SPEC_SETTINGS["outlookSettings"]
    assert settings["teamsChannel"] == channel and settings["syncInterval"] == 600
    assert settings["calendarId"] == "primary" and settings["syncDirection"] == "bidirectional"


def test_connect_refuses_bad_settings_before_consent(hub):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/microsoft/connect",
                            json={"redirectUri": CALLBACK, "settings": {"outlookSettings": {"categoryColor": "pink"}}})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "settings.outlookSettings.categoryColor"
    assert stats(hub)["counters"].get("authorize", 0) == 0


def test_disconnect_says_tokens_are_forgotten_not_revoked(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "microsoft", body={"redirectUri": CALLBACK})
        response = api.delete(f"/api/integrations/{integration}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["status"] == "disconnected"
        cleanup = data["cleanupStatus"]
        assert cleanup["tokensRevoked"] is False
        assert any("no endpoint to revoke" in n for n in cleanup["notes"])
        tested = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert tested["connectionStatus"] == "disconnected"
    assert "revoke" not in stats(hub)["counters"]
