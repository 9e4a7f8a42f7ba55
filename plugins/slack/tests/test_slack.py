"""The Slack plugin through the hub's public API, against its sandbox."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest

from axhub.testing import begin_connect, connect, finish_connect, follow_consent, integration, run_connection_test

REDIRECT = "https://app.attendance-x.com/integrations/callback"










# -- connect ----------------------------------------------------------------------------


start = partial(begin_connect, provider="slack", redirectUri=REDIRECT)
callback = partial(finish_connect, provider="slack")
run_test = run_connection_test

def test_auth_url_has_comma_separated_bot_scopes_and_no_pkce(hub):
    with hub.client("manager") as api:
        data = start(api)
    assert data["scopes"] == ["messages.send", "channels.read", "users.read", "webhook"]
    url = urlsplit(data["authUrl"])
    assert url.path.endswith("/slack/oauth/v2/authorize")
    query = parse_qs(url.query)
    assert query["scope"] == ["chat:write,channels:read,groups:read,users:read,users:read.email,incoming-webhook"]
    assert query["client_id"] == ["axhub-sandbox-slack"]
    assert query["state"] == [data["state"]] and query["redirect_uri"] == [REDIRECT]
    # Slack's PKCE would make the app a public client: the hub does not ask for it.
    assert "code_challenge" not in query and "code_challenge_method" not in query


def test_connect_end_to_end(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        data = connect(api, "slack", redirectUri=REDIRECT)
        assert data["status"] == "connected" and data["provider"] == "slack"
        assert data["permissions"] == ["send_messages", "read_channels", "read_users", "post_webhook"]
        assert data["userInfo"] == {
            "id": "U0SANDBOX01", "email": "marie.dubois@example.com", "name": "Marie Dubois",
            "avatar": "https://sandbox.axhub.invalid/avatars/marie_192.png",
        }
        # Slack does not sync: initialSync still says so, as an object a client can read.
        assert data["initialSync"] == {"status": "skipped", "reason": "slack integrations do not sync"}
        stored = api.get(f"/api/integrations/{data['integrationId']}")
        counters = sandbox.get("/_control/stats").json()["counters"]
    assert stored.json()["data"]["type"] == "communication"
    # The installation's secrets stay in the vault.
    assert "hooks.slack.com/services/T0SANDBOX01" not in stored.text and "xox" not in stored.text
    assert counters["token.authorization_code"] == 1 and counters["api.users.info"] == 1


def test_without_users_read_the_user_is_known_by_id_only(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        data = connect(api, "slack", scopes=["messages.send"], redirectUri=REDIRECT)
        counters = sandbox.get("/_control/stats").json()["counters"]
    assert data["userInfo"] == {"id": "U0SANDBOX01"}
    assert data["permissions"] == ["send_messages"]
    assert "api.users.info" not in counters


def test_bad_code_is_oauth_error_with_slacks_reason(hub):
    with hub.client("manager") as api:
        back = follow_consent(start(api)["authUrl"])
        response = callback(api, "not-the-code-" + back["code"], back["state"])
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "OAUTH_ERROR" and error["details"] == {"reason": "invalid_code"}
        assert api.get("/api/integrations").json()["data"] == []


def test_token_endpoint_error_in_an_http_200_body(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        back = follow_consent(start(api)["authUrl"])
        sandbox.post("/_control/faults", json={"path": "/api/oauth.v2.access", "status": 200,
                                               "body": {"ok": False, "error": "bad_client_secret"}})
        response = callback(api, back["code"], back["state"])
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "OAUTH_ERROR"
        assert response.json()["error"]["details"] == {"reason": "bad_client_secret"}
        assert api.get("/api/integrations").json()["data"] == []


def test_token_endpoint_throttled(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        back = follow_consent(start(api)["authUrl"])
        sandbox.post("/_control/faults", json={"path": "/api/oauth.v2.access", "status": 429})
        response = callback(api, back["code"], back["state"])
        assert response.status_code in (429, 502), response.text
        assert response.json()["error"]["details"] == {"reason": "ratelimited"}


def test_consent_denied(hub):
    with hub.client("manager") as api:
        data = start(api)
        back = follow_consent(data["authUrl"], sandbox_consent="deny")
    assert back["error"] == "access_denied" and back["state"] == data["state"] and "code" not in back
    assert back["error_description"].startswith("The user has denied access")


def test_provider_lists_slack_without_pkce(hub):
    with hub.client("manager") as api:
        providers = api.get("/api/integrations/providers").json()["data"]
    slack = next(p for p in providers if p["slug"] == "slack")
    assert slack["status"] == "loaded" and slack["type"] == "communication"
    assert "pkce" not in slack["capabilities"] and {"oauth", "refresh", "revoke"} <= set(slack["capabilities"])


# -- refresh (token rotation) -----------------------------------------------------------

def test_rotating_tokens_are_refreshed_with_the_rotated_refresh_token(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        sandbox.post("/_control/config", json={"accessTokenTtl": 10})  # always due: margin is 300 s
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        first = run_test(api, integration_id)
        # The sandbox kills a refresh token once used: a second refresh works only with the new one.
        second = run_test(api, integration_id)
        stats = sandbox.get("/_control/stats").json()
    assert first["connectionStatus"] == second["connectionStatus"] == "healthy"
    assert stats["counters"]["token.refresh_token"] == 2
    assert stats["liveRefreshTokens"] == 1


def test_dead_refresh_token_makes_the_integration_error(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        sandbox.post("/_control/config", json={"accessTokenTtl": 10})
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        sandbox.post("/_control/revoke-all")
        sandbox.post("/_control/expire-access-tokens")
        data = run_test(api, integration_id)
        counters = sandbox.get("/_control/stats").json()["counters"]
        row = integration(api, integration_id)
    assert data["connectionStatus"] == "unhealthy"
    assert data["lastError"]["code"] == "INVALID_CREDENTIALS"
    assert counters["token.refresh_token"] == 1
    assert row["status"] == "error" and row["lastError"]["code"] == "INVALID_CREDENTIALS"


def test_long_lived_bot_token_is_never_refreshed_and_a_revoked_one_is_an_error(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        sandbox.post("/_control/config", json={"rotateRefreshTokens": False})
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        assert run_test(api, integration_id)["connectionStatus"] == "healthy"
        sandbox.post("/_control/revoke-all")  # e.g. the app was removed from the workspace
        data = run_test(api, integration_id)
        counters = sandbox.get("/_control/stats").json()["counters"]
        row = integration(api, integration_id)
    assert "token.refresh_token" not in counters
    assert data["connectionStatus"] == "unhealthy" and data["lastError"]["code"] == "INVALID_CREDENTIALS"
    assert row["status"] == "error"


# -- test_connection ----------------------------------------------------------------------

def test_connection_test_shape(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        data = run_test(api, integration_id)
        counters = sandbox.get("/_control/stats").json()["counters"]
    assert set(data) == {"connectionStatus", "responseTime", "permissions", "apiLimits", "lastError", "recommendations"}
    assert data["connectionStatus"] == "healthy" and data["responseTime"].endswith("ms")
    assert data["permissions"] == {"send_messages": True, "read_channels": True, "read_users": True, "post_webhook": True}
    # Slack sends no rate-limit headers on success and has no daily quota: the spec's
    # keys are there, empty, beside the hub's own count of calls.
    limits = data["apiLimits"]
    assert {k: limits[k] for k in ("remaining", "resetAt", "dailyLimit")} == {"remaining": None, "resetAt": None, "dailyLimit": None}
    assert limits["callsToday"] >= 1
    assert data["lastError"] is None
    recommendations = data["recommendations"]
    assert "Connection is healthy" in recommendations
    assert 'Connected to the Slack workspace "Attendance-X Sandbox" as @attendance-x' in recommendations
    # The incoming webhook of the installation was kept (in the vault) and is the fallback channel.
    assert any("#general through the incoming webhook" in r for r in recommendations)
    assert counters["api.auth.test"] == 1


def test_scopes_come_from_the_x_oauth_scopes_header(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        sandbox.post("/_control/faults", json={
            "path": "/api/auth.test", "status": 200,
            "body": {"ok": True, "url": "https://axhub-sandbox.slack.com/", "team": "Attendance-X Sandbox",
                     "user": "attendance-x", "team_id": "T0SANDBOX01", "user_id": "U0SBXBOT001"},
            "headers": {"x-oauth-scopes": "chat:write,incoming-webhook"},
        })
        data = run_test(api, integration_id)
        row = integration(api, integration_id)
    assert data["connectionStatus"] == "degraded"
    assert data["permissions"] == {"send_messages": True, "read_channels": False, "read_users": False, "post_webhook": True}
    assert row["permissions"] == ["send_messages", "post_webhook"]


def test_recommendations_follow_the_settings(hub):
    settings = {"channels": {"alerts": "#attendance-alerts"}, "userMentions": {"enabled": True},
                "notificationTypes": [], "notifications": {"eventReminders": False}}
    with hub.client("manager") as api:
        integration_id = connect(api, "slack", scopes=["messages.send", "channels.read"], settings=settings,
                                 redirectUri=REDIRECT)["integrationId"]
        recommendations = run_test(api, integration_id)["recommendations"]
    assert any(r.startswith("Invite @attendance-x to #attendance-alerts") for r in recommendations)
    assert "No notification type is enabled: nothing will be posted" in recommendations
    assert any("users:read.email" in r for r in recommendations)


def test_recommendations_name_only_the_channels_the_bot_is_not_in(hub):
    settings = {"defaultChannel": "#nowhere", "channels": {"default": "#general", "alerts": "#attendance-alerts",
                                                           "reports": "C0SBXRPRTS1"}}
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        # Two channels a page: names are found only by following next_cursor.
        sandbox.post("/_control/workspace", json={"pageSize": 2})
        integration_id = connect(api, "slack", settings=settings, redirectUri=REDIRECT)["integrationId"]
        data = run_test(api, integration_id)
        counters = sandbox.get("/_control/stats").json()["counters"]
    recommendations = data["recommendations"]
    assert data["connectionStatus"] == "healthy"
    [invite] = [r for r in recommendations if r.startswith("Invite")]
    # The bot is in #general: only the two others are named; the id is shown with its name.
    assert invite.startswith("Invite @attendance-x to #attendance-alerts, #reports (C0SBXRPRTS1) (/invite")
    assert "until then its messages there go to #general through the incoming webhook" in invite
    assert any(r.startswith("#nowhere (defaultChannel) does not exist in the workspace") for r in recommendations)
    assert counters.get("api.conversations.info") == 1, counters  # the id, asked directly
    assert counters["api.conversations.list"] >= 2  # the names, over several pages


def test_recommendations_for_public_posting_archived_and_hidden_channels(hub):
    settings = {"channels": {"default": "#attendance-alerts", "alerts": "G0SBXPRIV01", "reports": "#old-news"}}
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", scopes=["messages.send", "messages.public", "channels.read"],
                                 settings=settings, redirectUri=REDIRECT)["integrationId"]
        recommendations = run_test(api, integration_id)["recommendations"]
        # Once the bot is invited into the private channel, Slack shows it, member.
        sandbox.post("/_control/channels", json={"id": "G0SBXPRIV01", "name": "managers", "private": True,
                                                 "botMember": True})
        again = run_test(api, integration_id)["recommendations"]
    # chat:write.public posts in a public channel without joining it: no invitation needed.
    assert not any(r.startswith("Invite") for r in recommendations)
    # Slack hides a private channel from a bot that is not in it.
    assert any(r.startswith("G0SBXPRIV01 (channels.alerts) does not exist") and "private channel" in r
               for r in recommendations)
    assert "#old-news (channels.reports) is archived: Slack takes no messages there" in recommendations
    assert not any("G0SBXPRIV01" in r for r in again)


def test_without_a_read_scope_membership_is_not_checked_but_said(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", scopes=["messages.send"], redirectUri=REDIRECT,
                                 settings={"channels": {"alerts": "#attendance-alerts"}})["integrationId"]
        data = run_test(api, integration_id)
        counters = sandbox.get("/_control/stats").json()["counters"]
    assert data["connectionStatus"] == "healthy" and data["lastError"] is None
    assert any(r.startswith("Cannot check that @attendance-x is in #attendance-alerts: grant channels:read and "
                            "groups:read (scope channels.read)") for r in data["recommendations"])
    assert not any(k.startswith("api.conversations") for k in counters)


def test_a_grant_from_before_groups_read_checks_public_channels_only(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        sandbox.post("/_control/channels", json={"id": "G0SBXPRIV01", "name": "managers", "private": True,
                                                 "botMember": True})
        integration_id = connect(api, "slack", redirectUri=REDIRECT,
                                 settings={"channels": {"default": "#general", "alerts": "#managers"}})["integrationId"]
        # An installation made when channels.read meant channels:read alone.
        sandbox.post("/_control/faults", json={
            "path": "/api/auth.test", "status": 200,
            "body": {"ok": True, "team": "Attendance-X Sandbox", "user": "attendance-x", "user_id": "U0SBXBOT001"},
            "headers": {"x-oauth-scopes": "chat:write,channels:read,incoming-webhook"}})
        data = run_test(api, integration_id)
    assert data["connectionStatus"] == "degraded" and data["permissions"]["read_channels"] is False
    assert any(r.startswith("#managers (channels.alerts) does not exist in the workspace among its public channels")
               for r in data["recommendations"])
    assert not any(r.startswith("Invite") for r in data["recommendations"])


def test_a_channel_check_slack_throttles_is_advice_not_a_failure(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT,
                                 settings={"channels": {"alerts": "#attendance-alerts"}})["integrationId"]
        sandbox.post("/_control/faults", json={"path": "/api/conversations.list", "status": 429})
        data = run_test(api, integration_id)
    assert data["connectionStatus"] == "healthy" and data["lastError"] is None
    assert "Could not check @attendance-x's channels (ratelimited); run the test again later" in data["recommendations"]


def test_throttled_connection_test(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        sandbox.post("/_control/faults", json={"path": "/api/auth.test", "status": 429, "headers": {"Retry-After": "7"}})
        data = run_test(api, integration_id)
        row = integration(api, integration_id)
    assert data["connectionStatus"] == "unhealthy" and data["lastError"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert row["status"] == "connected"  # throttling is not a dead grant


def test_sandbox_speaks_slacks_error_shapes(hub):
    with hub.sandbox("slack") as sandbox:
        assert sandbox.post("/api/auth.test").json() == {"ok": False, "error": "not_authed"}
        bad = sandbox.post("/api/auth.test", headers={"Authorization": "Bearer xoxb-nope"})
        assert bad.status_code == 200 and bad.json() == {"ok": False, "error": "invalid_auth"}
        sandbox.post("/_control/faults", json={"path": "/api/users.info", "status": 429})
        throttled = sandbox.get("/api/users.info")
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "30"
        assert throttled.json() == {"ok": False, "error": "ratelimited"}
        token = sandbox.post("/api/oauth.v2.access", data={"code": "x"}, auth=("axhub-sandbox-slack", "wrong"))
        assert token.status_code == 200 and token.json() == {"ok": False, "error": "bad_client_secret"}


# -- settings -----------------------------------------------------------------------------

SPEC_EXAMPLE = {
    "channels": {"default": "#general", "alerts": "#attendance-alerts"},
    "messageTemplates": {
        "eventReminder": "📅 Rappel: {eventName} commence dans {timeUntil}",
        "attendanceAlert": "⚠️ Faible présence: {eventName} ({attendanceRate}%)",
    },
    "notifications": {"eventReminders": True, "attendanceAlerts": True, "weeklyReports": True},
}


def test_spec_settings_are_accepted_and_stored(hub):
    with hub.client("manager") as api:
        integration_id = connect(api, "slack", redirectUri=REDIRECT, settings={
            "webhookUrl": "https://hooks.slack.com/services/T0001/B0001/abcdef", "defaultChannel": "#general",
            "notificationTypes": ["event_reminders", "attendance_alerts", "system_notifications"]})["integrationId"]
        response = api.put(f"/api/integrations/{integration_id}/settings", json={"settings": SPEC_EXAMPLE})
        assert response.status_code == 200, response.text
        settings = response.json()["data"]["settings"]
        again = api.put(f"/api/integrations/{integration_id}/settings", json={"settings": {
            "channels": {"default": "C0123456789", "reports": "#équipe-présences.2024"},
            "userMentions": {"enabled": True, "mentionManagers": False, "mentionOrganizers": True}}})
    assert settings["webhookUrl"] == "https://hooks.slack.com/services/T0001/B0001/abcdef"
    assert settings["channels"] == {"default": "#general", "alerts": "#attendance-alerts", "reports": None}
    assert settings["messageTemplates"]["attendanceAlert"] == "⚠️ Faible présence: {eventName} ({attendanceRate}%)"
    assert settings["messageTemplates"]["weeklyReport"] == "📊 Rapport hebdomadaire de présence"
    assert settings["notifications"] == {"eventReminders": True, "attendanceAlerts": True, "weeklyReports": True}
    assert again.status_code == 200, again.text
    assert again.json()["data"]["settings"]["channels"]["reports"] == "#équipe-présences.2024"


@pytest.mark.parametrize("settings,field", [
    ({"channels": {"alerts": "attendance-alerts"}}, "settings.channels.alerts"),
    ({"channels": {"default": "#General"}}, "settings.channels.default"),
    ({"channels": {"reports": "#weekly reports"}}, "settings.channels.reports"),
    ({"defaultChannel": "#" + "a" * 81}, "settings.defaultChannel"),
    ({"defaultChannel": "#--"}, "settings.defaultChannel"),
    ({"defaultChannel": "c0123456789"}, "settings.defaultChannel"),
    ({"webhookUrl": "http://hooks.slack.com/services/T/B/x"}, "settings.webhookUrl"),
    ({"webhookUrl": "https://hooks.slack.com.evil.example/services/T/B/x"}, "settings.webhookUrl"),
    ({"webhookUrl": "https://hooks.slack.com"}, "settings.webhookUrl"),
    ({"notificationTypes": ["event_reminders", "pizza_alerts"]}, "settings.notificationTypes[1]"),
    ({"messageTemplates": {"eventReminder": "Rappel: {eventName"}}, "settings.messageTemplates.eventReminder"),
    ({"messageTemplates": {"eventReminder": "Rappel: eventName}"}}, "settings.messageTemplates.eventReminder"),
    ({"messageTemplates": {"attendanceAlert": "{eventName}: {rate}%"}}, "settings.messageTemplates.attendanceAlert"),
    ({"messageTemplates": {"weeklyReport": "{{period}}"}}, "settings.messageTemplates.weeklyReport"),
    ({"messageTemplates": {"weeklyReport": "  "}}, "settings.messageTemplates.weeklyReport"),
    ({"userMentions": {"enabled": "yes"}}, "settings.userMentions.enabled"),
    ({"notifications": {"eventReminder": True}}, "settings.notifications.eventReminder"),
    ({"slackChannel": "#general"}, "settings.slackChannel"),
])
def test_bad_settings_name_the_field(hub, settings, field):
    with hub.client("manager") as api:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        response = api.put(f"/api/integrations/{integration_id}/settings", json={"settings": settings})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["field"] == field
        # Nothing was saved.
        assert integration(api, integration_id)["settings"]["channels"]["alerts"] is None


def test_bad_settings_at_connect_name_the_field(hub):
    with hub.client("manager") as api:
        response = api.post("/api/integrations/slack/connect", json={
            "redirectUri": REDIRECT, "settings": {"messageTemplates": {"eventReminder": "{when}"}}})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "settings.messageTemplates.eventReminder"
    assert "{when}" in response.json()["error"]["message"]


# -- disconnect ---------------------------------------------------------------------------

def test_disconnect_revokes_the_bot_token(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        response = api.delete(f"/api/integrations/{integration_id}")
        stats = sandbox.get("/_control/stats").json()
        after = run_test(api, integration_id)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "disconnected"
    cleanup = data["cleanupStatus"]
    assert cleanup["tokensRevoked"] is True and cleanup["eventsRemoved"] == 0 and cleanup["webhooksDisabled"] == 0
    assert any("stays installed" in n for n in cleanup["notes"])
    assert any("incoming webhook to #general" in n for n in cleanup["notes"])
    assert stats["counters"]["revoke"] == 1 and stats["revokedTokens"] == 1 and stats["liveAccessTokens"] == 0
    assert after["connectionStatus"] == "disconnected"


def test_disconnect_when_slack_already_dropped_the_token(hub):
    with hub.client("manager") as api, hub.sandbox("slack") as sandbox:
        integration_id = connect(api, "slack", redirectUri=REDIRECT)["integrationId"]
        sandbox.post("/_control/revoke-all")
        response = api.delete(f"/api/integrations/{integration_id}")
    assert response.status_code == 200, response.text
    cleanup = response.json()["data"]["cleanupStatus"]
    assert cleanup["tokensRevoked"] is False
    assert any("invalid_auth" in n for n in cleanup["notes"])
