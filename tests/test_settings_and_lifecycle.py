"""PUT /settings, DELETE, POST /test and GET through the API."""

import pytest

from axhub.testing import connect, connect_synced


@pytest.fixture
def google(hub):
    with hub.client("manager") as api:
        # The initial sync ends first: faults a test injects are meant for its own calls.
        yield api, connect_synced(api, "google")


def view(api, integration):
    return api.get(f"/api/integrations/{integration}").json()["data"]


def test_spec_settings_request_is_accepted(google):
    api, integration = google
    response = api.put(f"/api/integrations/{integration}/settings", json={
        "syncDirection": "attendance_to_external",
        "autoSync": False,
        "syncInterval": 600,
        "settings": {"calendarId": "work@techcorp.com", "eventPrefix": "[Attendance-X]",
                     "includeDescription": True, "syncPrivateEvents": False},
        "notifications": {"syncErrors": True, "syncSuccess": False, "weeklyReport": True},
    })
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["settings"]["syncDirection"] == "attendance_to_external"
    assert data["settings"]["autoSync"] is False and data["settings"]["syncInterval"] == 600
    assert data["settings"]["calendarId"] == "work@techcorp.com"
    assert data["settings"]["eventPrefix"] == "[Attendance-X]"
    assert data["notifications"] == {"syncErrors": True, "syncSuccess": False, "weeklyReport": True}
    assert view(api, integration)["settings"] == data["settings"]


def test_google_advanced_configuration_of_the_spec(google):
    api, integration = google
    advanced = {
        "calendarId": "primary", "syncDirection": "bidirectional",
        "eventMapping": {"titlePrefix": "[Attendance-X] ", "includeAttendees": True, "includeDescription": True,
                         "includeLocation": True, "colorId": "2"},
        "filters": {"eventTypes": ["training", "meeting", "conference"], "excludePrivate": True, "minDuration": 30},
        "notifications": {"reminders": True, "reminderMinutes": [15, 60]},
    }
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": advanced})
    assert response.status_code == 200, response.text
    settings = response.json()["data"]["settings"]
    for key, value in advanced.items():
        assert settings[key] == value


@pytest.mark.parametrize("body,field", [
    ({"syncInterval": 30}, "syncInterval"),
    ({"syncInterval": "300"}, "syncInterval"),
    ({"syncDirection": "both"}, "syncDirection"),
    ({"autoSync": "yes"}, "autoSync"),
    ({"colour": "blue"}, "colour"),
    ({"settings": {"calendarId": ""}}, "settings.calendarId"),
    ({"settings": {"eventMapping": {"colorId": "12"}}}, "settings.eventMapping.colorId"),
    ({"settings": {"eventMapping": {"titlePrefx": "x"}}}, "settings.eventMapping.titlePrefx"),
    ({"settings": {"filters": {"minDuration": -5}}}, "settings.filters.minDuration"),
    ({"settings": {"notifications": {"reminderMinutes": [1, 2, 3, 4, 5, 6]}}}, "settings.notifications.reminderMinutes"),
    ({"settings": {"notifications": {"reminderMinutes": [15, "x"]}}}, "settings.notifications.reminderMinutes[1]"),
    ({"settings": []}, "settings"),
    ({"notifications": {"weeklyReports": True}}, "notifications.weeklyReports"),
])
def test_bad_settings_are_400_naming_the_field_and_nothing_is_saved(google, body, field):
    api, integration = google
    before = view(api, integration)
    response = api.put(f"/api/integrations/{integration}/settings", json={**body, "autoSync": False}
                       if "autoSync" not in body and "colour" not in body else body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == field, error
    after = view(api, integration)
    assert after["settings"] == before["settings"] and after["notifications"] == before["notifications"]


def test_sync_settings_are_refused_for_a_provider_that_does_not_sync(hub):
    with hub.client("manager") as api:
        integration = connect(api, "webhooks", settings={"webhooks": {}})["integrationId"]
        response = api.put(f"/api/integrations/{integration}/settings", json={"syncInterval": 600})
    assert response.status_code == 400 and response.json()["error"]["field"] == "syncInterval"


def test_non_json_body_is_a_validation_error(google):
    api, integration = google
    response = api.put(f"/api/integrations/{integration}/settings", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_list_filters(hub):
    with hub.client("manager") as api:
        g = connect(api, "google")["integrationId"]
        w = connect(api, "webhooks")["integrationId"]
        api.delete(f"/api/integrations/{w}")
        ids = lambda **q: [i["id"] for i in api.get("/api/integrations", params=q).json()["data"]]  # noqa: E731
        assert set(ids()) == {g, w}
        assert ids(provider="google") == [g]
        assert ids(type="calendar") == [g] and ids(type="webhook") == [w] and ids(type="video") == []
        assert ids(status="connected") == [g] and ids(status="disconnected") == [w]
        assert ids(provider="google", status="disconnected") == []
        for param, value in [("provider", "myspace"), ("status", "sleeping"), ("type", "fax")]:
            response = api.get("/api/integrations", params={param: value})
            assert response.status_code == 400 and response.json()["error"]["field"] == param


def test_integration_view_has_the_spec_fields(google):
    api, integration = google
    data = view(api, integration)
    for key in ["id", "provider", "type", "name", "status", "connectedAt", "lastSync", "settings", "permissions",
                "statistics", "connectedBy"]:
        assert key in data
    assert data["type"] == "calendar" and data["name"] == "Google Calendar"
    assert set(data["statistics"]) == {"eventsSynced", "lastSyncDuration", "errorCount", "successRate"}


def test_disconnect_revokes_at_the_provider_and_forgets_the_tokens(hub, google):
    api, integration = google
    with hub.sandbox("google") as sb:
        assert sb.get("/_control/stats").json()["liveRefreshTokens"] == 1
        response = api.delete(f"/api/integrations/{integration}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["integrationId"] == integration and data["status"] == "disconnected" and data["disconnectedAt"]
        assert data["cleanupStatus"] == {"eventsRemoved": 0, "webhooksDisabled": 0, "tokensRevoked": True, "notes": []}
        stats = sb.get("/_control/stats").json()
        assert stats["counters"]["revoke"] == 1 and stats["liveRefreshTokens"] == 0
    assert view(api, integration)["status"] == "disconnected"
    tested = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert tested["connectionStatus"] == "disconnected"
    again = api.delete(f"/api/integrations/{integration}")
    assert again.status_code == 200 and again.json()["data"]["cleanupStatus"]["notes"] == ["already disconnected"]


def test_disconnect_when_the_provider_fails_still_forgets_and_says_so(hub, google):
    api, integration = google
    with hub.sandbox("google") as sb:
        sb.post("/_control/faults", json={"path": "/revoke", "status": 500})
        data = api.delete(f"/api/integrations/{integration}").json()["data"]
    assert data["status"] == "disconnected" and data["cleanupStatus"]["tokensRevoked"] is False


def test_connection_test_reports_health_permissions_and_timing(google):
    api, integration = google
    data = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert data["connectionStatus"] == "healthy"
    assert data["responseTime"].endswith("ms")
    assert data["permissions"] == {"read_calendar": True, "write_calendar": True, "manage_events": True}
    assert data["lastError"] is None
    # Google sends no rate-limit headers: its documented daily quota less the hub's count.
    assert data["apiLimits"]["dailyLimit"] == 1_000_000 and data["apiLimits"]["callsToday"] >= 1
    assert "Connection is healthy" in data["recommendations"]
    assert view(api, integration)["lastActivity"] is not None


def test_connection_test_with_the_provider_down(hub, google):
    api, integration = google
    with hub.sandbox("google") as sb:
        sb.post("/_control/faults", json={"path": "/calendar/v3", "status": 500})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert data["connectionStatus"] == "unhealthy" and data["lastError"]["code"] == "CONNECTION_ERROR"
    # A passing outage does not disconnect anybody.
    assert view(api, integration)["status"] == "connected"


def test_connection_test_when_throttled(hub, google):
    api, integration = google
    with hub.sandbox("google") as sb:
        sb.post("/_control/faults", json={"path": "/calendar/v3", "status": 403, "body": {"error": {
            "code": 403, "message": "Rate Limit Exceeded",
            "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}]}}})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert data["lastError"]["code"] == "RATE_LIMIT_EXCEEDED"


def test_connection_test_with_a_missing_calendar(hub, google):
    api, integration = google
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {"calendarId": "nope@x.com"}})
    data = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert data["connectionStatus"] == "unhealthy" and "Not Found" in data["lastError"]["message"]


def test_webhooks_connect_with_their_configuration_and_the_guard_refuses_private_targets(hub):
    config = {"webhooks": {"eventCreated": {"enabled": True, "url": "http://127.0.0.1:9/hook",
                                            "headers": {"Authorization": "Bearer token"},
                                            "retryPolicy": {"maxRetries": 3, "backoffMultiplier": 2}}}}
    with hub.client("manager") as api:
        refused = api.post("/api/integrations/webhooks/connect", json={"settings": config})  # an address: refused now
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "settings.webhooks.eventCreated.url"
        config["webhooks"]["eventCreated"]["url"] = "http://localhost:9/hook"  # a name: checked once resolved
        data = api.post("/api/integrations/webhooks/connect", json={"settings": config}).json()["data"]
        assert data["status"] == "connected" and data["integrationId"].startswith("int-")
        tested = api.post(f"/api/integrations/{data['integrationId']}/test").json()["data"]
        assert tested["connectionStatus"] == "unhealthy"
        assert tested["lastError"]["code"] == "WEBHOOK_FAILED" and "non-public" in tested["lastError"]["message"]


@pytest.mark.parametrize("hook,field", [
    ({"url": "ftp://x.example/h"}, "settings.webhooks.eventCreated.url"),
    ({"url": "https://x.example/h", "headers": {"Host": "y"}}, "settings.webhooks.eventCreated.headers.Host"),
    ({"url": "https://x.example/h", "headers": {"webhook-signature": "v1,x"}}, "settings.webhooks.eventCreated.headers.webhook-signature"),
    ({"url": "https://x.example/h", "retryPolicy": {"maxRetries": -1}}, "settings.webhooks.eventCreated.retryPolicy.maxRetries"),
    ({"url": "https://x.example/h", "retryPolicy": {"backoffMultiplier": 1000}}, "settings.webhooks.eventCreated.retryPolicy.backoffMultiplier"),
])
def test_bad_webhook_configuration_is_refused(hub, hook, field):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {"eventCreated": hook}}})
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_unknown_webhook_event_is_refused(hub):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/webhooks/connect",
                            json={"settings": {"webhooks": {"eventExploded": {"url": "https://x.example"}}}})
    assert response.status_code == 400 and response.json()["error"]["field"].startswith("settings.webhooks")


def test_a_webhooks_block_for_a_provider_without_one_names_the_field(google):
    api, integration = google
    response = api.put(f"/api/integrations/{integration}/settings", json={"webhooks": {}})
    assert response.status_code == 400 and response.json()["error"]["field"] == "webhooks", response.text
