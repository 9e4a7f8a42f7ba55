"""The Zoom plugin through the hub's public API, against its sandbox."""

import base64
from datetime import datetime, timezone
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from axhub.testing import begin_connect, connect, finish_connect, follow_consent, integration, run_connection_test

CLIENT_ID, CLIENT_SECRET = "axhub-sandbox-zoom", "sandbox-secret-zoom"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
ALL_PERMISSIONS = ["read_meetings", "create_meetings", "read_attendance", "read_profile"]

SPEC_SETTINGS = {
    "autoCreateMeetings": True,
    "meetingDefaults": {
        "type": "scheduled", "duration": 60, "timezone": "Europe/Paris", "password": True,
        "waitingRoom": True, "joinBeforeHost": False, "muteUponEntry": True,
        "recordingSettings": {"autoRecording": "cloud", "recordingAuthentication": True},
    },
    "attendanceTracking": {"enabled": True, "syncAttendance": True, "minimumDuration": 30},
}











start = partial(begin_connect, provider="zoom")
callback = partial(finish_connect, provider="zoom")
run_test = run_connection_test
view = integration

@pytest.fixture
def api(hub):
    with hub.client("manager") as client:
        yield client


@pytest.fixture
def sandbox(hub):
    with hub.sandbox("zoom") as client:
        yield client


def short_lived(sandbox):
    # Due at once: well inside the vault's refresh margin.
    sandbox.post("/_control/config", json={"accessTokenTtl": 10})


# -- metadata and consent --------------------------------------------------------------

def test_provider_is_listed_as_video_with_its_scopes(api):
    zoom = next(p for p in api.get("/api/integrations/providers").json()["data"] if p["slug"] == "zoom")
    assert zoom["status"] == "loaded" and zoom["type"] == "video" and zoom["name"] == "Zoom"
    assert {"oauth", "pkce", "refresh", "revoke"} <= set(zoom["capabilities"])
    assert {s["name"]: s["providerScopes"] for s in zoom["scopes"]} == {
        "meetings.read": ["meeting:read"], "meetings.write": ["meeting:write"],
        "reports.read": ["report:read:admin"], "user.read": ["user:read"],
    }


def test_auth_url_is_zooms_with_pkce_and_no_scope(api):
    data = start(api)
    url = urlsplit(data["authUrl"])
    query = parse_qs(url.query)
    assert url.path.endswith("/zoom/oauth/authorize")
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["state"] == [data["state"]]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert "scope" not in query  # Zoom takes the scopes from the Marketplace app


def test_connect_end_to_end(api):
    data = connect(api, "zoom")
    assert data["status"] == "connected" and data["provider"] == "zoom"
    assert data["userInfo"] == {"id": "sandbox-user-1", "email": "marie.dubois@example.com",
                                "name": "Marie Dubois", "avatar": "https://sandbox.axhub.invalid/avatars/marie.png"}
    assert sorted(data["permissions"]) == sorted(ALL_PERMISSIONS)
    # Meetings go through the sync engine: connecting starts the first run.
    assert data["initialSync"]["status"] == "scheduled"
    row = view(api, data["integrationId"])
    assert row["type"] == "video" and row["name"] == "Zoom"
    assert row["settings"]["meetingDefaults"]["type"] == "scheduled"


def test_permissions_follow_what_the_zoom_app_grants(api, sandbox):
    sandbox.post("/_control/app-scopes", json=["user:read", "meeting:read", "meeting:write"])
    data = connect(api, "zoom")
    assert sorted(data["permissions"]) == ["create_meetings", "read_meetings", "read_profile"]
    report = run_test(api, data["integrationId"])
    assert report["connectionStatus"] == "degraded"
    assert report["permissions"]["read_attendance"] is False
    assert any("report:read:admin" in r for r in report["recommendations"])


def test_granular_scopes_count_as_the_classic_ones(api, sandbox):
    sandbox.post("/_control/app-scopes", json=[
        "user:read:user", "meeting:read:meeting", "meeting:write:meeting", "meeting:update:meeting",
        "meeting:delete:meeting", "report:read:list_meeting_participants:admin"])
    data = connect(api, "zoom")
    assert sorted(data["permissions"]) == sorted(ALL_PERMISSIONS)
    assert run_test(api, data["integrationId"])["connectionStatus"] == "healthy"


def test_app_without_user_read_connects_but_cannot_be_tested(api, sandbox):
    sandbox.post("/_control/app-scopes", json=["meeting:read", "meeting:write"])
    data = connect(api, "zoom", scopes=["meetings.read", "meetings.write", "user.read"])
    assert data["status"] == "connected" and data["userInfo"] == {}
    assert sorted(data["permissions"]) == ["create_meetings", "read_meetings"]
    report = run_test(api, data["integrationId"])
    assert report["connectionStatus"] == "unhealthy" and report["lastError"]["code"] == "PERMISSION_DENIED"
    assert "does not contain scopes" in report["lastError"]["message"]


def test_consent_denied_comes_back_as_access_denied(api):
    data = start(api)
    back = follow_consent(data["authUrl"], sandbox_consent="deny")
    assert back["error"] == "access_denied" and back["state"] == data["state"] and "code" not in back


# -- token endpoint ----------------------------------------------------------------------

def test_bad_code_is_oauth_error_with_zooms_reason(api):
    back = follow_consent(start(api)["authUrl"])
    response = callback(api, "bogus-" + back["code"], back["state"])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "OAUTH_ERROR" and error["details"] == {"reason": "invalid_grant"}
    assert "Invalid authorization code" in error["message"]
    assert api.get("/api/integrations").json()["data"] == []


def test_injected_token_error_reason_reaches_the_caller(api, sandbox):
    back = follow_consent(start(api)["authUrl"])
    sandbox.post("/_control/faults", json={"path": "/oauth/token", "status": 401, "body": {
        "reason": "Invalid client_id or client_secret", "error": "invalid_client"}})
    response = callback(api, back["code"], back["state"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "OAUTH_ERROR" and error["details"] == {"reason": "invalid_client"}
    assert "Invalid client_id or client_secret" in error["message"]


def test_zoom_down_at_the_token_endpoint_is_connection_error(api, sandbox):
    back = follow_consent(start(api)["authUrl"])
    sandbox.post("/_control/faults", json={"path": "/oauth/token", "status": 503})
    response = callback(api, back["code"], back["state"])
    assert response.status_code == 502 and response.json()["error"]["code"] == "CONNECTION_ERROR"


def test_sandbox_token_endpoint_wants_basic_auth_and_rotates(api, sandbox):
    """The sandbox holds the hub to Zoom's rules: no client secret in the form, and a
    used refresh token is dead."""
    connect(api, "zoom")
    [refresh_token] = sandbox.get("/_control/tokens").json()["refreshTokens"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    posted = sandbox.post("/oauth/token", data={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert posted.status_code == 401 and posted.json()["error"] == "invalid_client"
    first = sandbox.post("/oauth/token", params=form, headers={"Authorization": BASIC})
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope", "api_url"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3599 and body["refresh_token"] != refresh_token
    again = sandbox.post("/oauth/token", params=form, headers={"Authorization": BASIC})
    assert again.status_code == 400 and again.json() == {"reason": "Invalid Token!", "error": "invalid_request"}


# -- refresh -----------------------------------------------------------------------------

def test_refresh_saves_the_rotated_refresh_token(api, sandbox):
    short_lived(sandbox)
    integration = connect(api, "zoom")["integrationId"]
    [original] = sandbox.get("/_control/tokens").json()["refreshTokens"]

    assert run_test(api, integration)["connectionStatus"] == "healthy"
    stats = sandbox.get("/_control/stats").json()
    assert stats["counters"]["token.refresh_token"] == 1
    [rotated] = sandbox.get("/_control/tokens").json()["refreshTokens"]
    assert rotated != original  # Zoom rotated it and the old one is dead

    # Still due (10 s tokens): a second refresh only works with the rotated token.
    report = run_test(api, integration)
    assert report["connectionStatus"] == "healthy", report
    assert sandbox.get("/_control/stats").json()["counters"]["token.refresh_token"] == 2
    assert sandbox.get("/_control/tokens").json()["refreshTokens"] != [rotated]
    assert view(api, integration)["status"] == "connected"


def test_dead_refresh_token_turns_the_integration_to_error(api, sandbox):
    short_lived(sandbox)
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/revoke-all")
    sandbox.post("/_control/expire-access-tokens")
    report = run_test(api, integration)
    assert report["connectionStatus"] == "unhealthy"
    assert report["lastError"]["code"] == "INVALID_CREDENTIALS"
    assert "Invalid Token!" in report["lastError"]["message"]
    row = view(api, integration)
    assert row["status"] == "error" and row["lastError"]["code"] == "INVALID_CREDENTIALS"


def test_revoked_access_token_is_invalid_credentials(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/revoke-all")  # the stored token is not due: no refresh, Zoom's code 124
    report = run_test(api, integration)
    assert report["connectionStatus"] == "unhealthy" and report["lastError"]["code"] == "INVALID_CREDENTIALS"
    assert "Invalid access token" in report["lastError"]["message"]
    assert view(api, integration)["status"] == "error"


# -- connection test and rate limits ---------------------------------------------------------

def test_connection_test_reports_zooms_rate_limit_headers(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    report = run_test(api, integration)
    assert report["connectionStatus"] == "healthy" and report["lastError"] is None
    assert report["permissions"] == {p: True for p in ALL_PERMISSIONS}
    assert report["responseTime"].endswith("ms")
    limits = report["apiLimits"]
    assert limits["category"] == "Light" and limits["limit"] == 30 and 0 <= limits["remaining"] < 30
    assert limits["dailyLimit"] is None  # a per-second limit is no daily quota


def test_daily_limit_is_reported_with_its_reset(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/rate-limit", json={"category": "Heavy", "type": "Daily-limit", "limit": 30000, "remaining": 29000})
    limits = run_test(api, integration)["apiLimits"]
    assert limits["dailyLimit"] == 30000 and limits["limit"] == 30000 and limits["remaining"] == 28999
    assert limits["category"] == "Heavy"
    reset = datetime.fromisoformat(limits["resetAt"].replace("Z", "+00:00"))
    assert reset > datetime.now(timezone.utc) and (reset.hour, reset.minute) == (0, 0)


def test_spent_daily_quota_is_api_quota_exceeded(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/rate-limit", json={"type": "Daily-limit", "limit": 100, "remaining": 0})
    direct = sandbox.get("/v2/users/me", headers={"Authorization": "Bearer x"})
    assert direct.status_code == 429 and direct.json()["code"] == 429
    assert direct.headers["x-ratelimit-type"] == "Daily-limit" and direct.headers["retry-after"].endswith("T00:00:00Z")
    report = run_test(api, integration)
    assert report["connectionStatus"] == "unhealthy" and report["lastError"]["code"] == "API_QUOTA_EXCEEDED"
    assert view(api, integration)["status"] == "connected"  # throttling is no reason to reconnect


def test_per_second_throttling_is_rate_limit_exceeded(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/faults", json={"path": "/v2/users/me", "status": 429})
    report = run_test(api, integration)
    assert report["connectionStatus"] == "unhealthy" and report["lastError"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert "per-second rate limit" in report["lastError"]["message"]
    assert view(api, integration)["status"] == "connected"


def test_zoom_error_bodies_of_the_sandbox(sandbox):
    me = sandbox.get("/v2/users/me", headers={"Authorization": "Bearer nope"})
    assert me.status_code == 401 and me.json() == {"code": 124, "message": "Invalid access token."}
    for header in ("x-ratelimit-category", "x-ratelimit-type", "x-ratelimit-limit", "x-ratelimit-remaining"):
        assert header in me.headers
    sandbox.post("/_control/faults", json={"path": "/v2/users/me", "status": 429})
    throttled = sandbox.get("/v2/users/me")
    assert throttled.status_code == 429 and throttled.json() == {
        "code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."}


# -- settings ----------------------------------------------------------------------------------

def test_spec_meeting_configuration_is_accepted(api):
    integration = connect(api, "zoom", settings=SPEC_SETTINGS)["integrationId"]
    # The spec's block, plus the event types that get meetings (default: every type)
    # and the schedule every syncing integration has.
    scheduled = {"syncDirection": "attendance_to_external", "autoSync": True, "syncInterval": 300}
    assert view(api, integration)["settings"] == {**SPEC_SETTINGS, "eventTypes": [], **scheduled}
    changed = {**SPEC_SETTINGS, "autoCreateMeetings": False, "eventTypes": ["meeting", "training"], **scheduled}
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": changed})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["settings"] == changed


@pytest.mark.parametrize("settings,field", [
    ({"autoCreateMeetings": "yes"}, "settings.autoCreateMeetings"),
    ({"meetingDefaults": {"type": "instant"}}, "settings.meetingDefaults.type"),
    ({"eventTypes": [""]}, "settings.eventTypes[0]"),
    ({"eventTypes": "meeting"}, "settings.eventTypes"),
    ({"meetingDefaults": {"recordingSettings": {"autoRecording": "tape"}}},
     "settings.meetingDefaults.recordingSettings.autoRecording"),
    ({"meetingDefaults": {"duration": 0}}, "settings.meetingDefaults.duration"),
    ({"meetingDefaults": {"duration": 1441}}, "settings.meetingDefaults.duration"),
    ({"meetingDefaults": {"duration": "60"}}, "settings.meetingDefaults.duration"),
    ({"meetingDefaults": {"timezone": "Europe/Atlantis"}}, "settings.meetingDefaults.timezone"),
    ({"meetingDefaults": {"timezone": "../../etc/passwd"}}, "settings.meetingDefaults.timezone"),
    ({"meetingDefaults": {"waitingRoom": True, "joinBeforeHost": True}}, "settings.meetingDefaults.joinBeforeHost"),
    ({"meetingDefaults": {"recordingSettings": {"autoRecording": "tape"}}},
     "settings.meetingDefaults.recordingSettings.autoRecording"),
    ({"meetingDefaults": {"recordingSettings": {"autoRecord": "cloud"}}},
     "settings.meetingDefaults.recordingSettings.autoRecord"),
    ({"attendanceTracking": {"minimumDuration": -1}}, "settings.attendanceTracking.minimumDuration"),
    ({"attendanceTracking": {"enabled": "on"}}, "settings.attendanceTracking.enabled"),
    ({"calendarId": "primary"}, "settings.calendarId"),
])
def test_bad_settings_are_400_naming_the_field(api, settings, field):
    integration = connect(api, "zoom")["integrationId"]
    before = view(api, integration)["settings"]
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": settings})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == field, error
    assert view(api, integration)["settings"] == before


def test_zoom_syncs_on_a_schedule_in_the_one_direction_there_is(api):
    integration = connect(api, "zoom")["integrationId"]
    settings = view(api, integration)["settings"]
    assert settings["autoSync"] is True and settings["syncInterval"] == 300
    assert settings["syncDirection"] == "attendance_to_external"
    assert view(api, integration)["nextSync"] is not None  # the scheduler holds its schedule
    response = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": 600, "autoSync": False})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["settings"]["syncInterval"] == 600
    assert response.json()["data"]["nextSync"] is None  # autoSync off: no schedule
    # The operator's bounds hold, and meetings never come back as events.
    response = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": 5})
    assert response.status_code == 400 and response.json()["error"]["field"] == "syncInterval"
    response = api.put(f"/api/integrations/{integration}/settings", json={"syncDirection": "bidirectional"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "syncDirection"


def test_bad_settings_at_connect_name_the_field(api):
    response = api.post("/api/integrations/zoom/connect", json={"settings": {"meetingDefaults": {"duration": 5000}}})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "settings.meetingDefaults.duration"


# -- disconnect ----------------------------------------------------------------------------

def test_disconnect_revokes_the_grant_at_zoom(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    response = api.delete(f"/api/integrations/{integration}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "disconnected"
    assert data["cleanupStatus"] == {"eventsRemoved": 0, "webhooksDisabled": 0, "tokensRevoked": True, "notes": []}
    stats = sandbox.get("/_control/stats").json()
    assert stats["counters"]["revoke"] == 1
    assert stats["liveAccessTokens"] == 0 and stats["liveRefreshTokens"] == 0


def test_disconnect_when_zoom_refuses_says_so(api, sandbox):
    integration = connect(api, "zoom")["integrationId"]
    sandbox.post("/_control/faults", json={"path": "/oauth/revoke", "status": 500})
    data = api.delete(f"/api/integrations/{integration}").json()["data"]
    assert data["status"] == "disconnected" and data["cleanupStatus"]["tokensRevoked"] is False
    assert any("Added Apps" in note for note in data["cleanupStatus"]["notes"])


@pytest.mark.parametrize("direction", ["bidirectional", "external_to_attendance"])
def test_a_sync_in_a_direction_zoom_cannot_do_is_400_naming_direction(api, direction):
    integration = connect(api, "zoom")["integrationId"]
    runs = len(api.get(f"/api/integrations/{integration}/history").json()["data"])
    response = api.post(f"/api/integrations/{integration}/sync", json={"direction": direction})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == "direction", error
    assert error["details"]["allowed"] == ["attendance_to_external"]
    assert "attendance_to_external" in error["message"]
    assert len(api.get(f"/api/integrations/{integration}/history").json()["data"]) == runs  # no run was started
