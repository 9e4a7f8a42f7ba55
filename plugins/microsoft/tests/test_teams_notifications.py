"""Teams channel notifications end to end: a hub notification becomes a stored message,
posted by the delivery worker to the configured channel of the sandbox's team, in the
organisation's language, with the same templates as Slack — and Graph's refusals and
throttling recorded where a user sees them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from csdl import load, problems

from axhub.testing import connect, notify, wait_until

TEAM = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
GENERAL = "19:09fc54a3141a45d0bc769cf506d2e079@thread.tacv2"
ALERTS = "19:5b7e5c2d9a0f4e0c8a3f1d2b6c4e8a10@thread.tacv2"
SCOPES = ["calendar.read", "teams.messages"]


def posted(hub) -> list[dict]:
    return hub.sandbox("microsoft").get("/_control/teams/messages").json()["messages"]


def stored(api, integration, **params) -> list[dict]:
    return api.get(f"/api/integrations/{integration}/webhooks/messages", params=params).json()["data"]


def channel(channel_id: str = GENERAL, team_id: str = TEAM) -> dict:
    return {"teamId": team_id, "channelId": channel_id}


def connect_teams(api, scopes=SCOPES, **settings) -> str:
    settings = {"teamsChannel": channel(), "autoSync": False, **settings}
    return connect(api, "microsoft", scopes=scopes, settings=settings)["integrationId"]


def reminder(start_in=timedelta(minutes=15), **more):
    start = datetime.now(timezone.utc) + start_in
    return {"eventId": "evt-1", "title": "Formation <RGPD> & \"sécurité\"", "start": start.isoformat(),
            "location": "Salle 2", "organizer": {"email": "anne@example.com", "name": "Anne"}, **more}


@pytest.fixture
def teams(hub):
    with hub.client("admin") as api:
        api.put("/api/organization/settings", json={"timezone": "Europe/Paris", "locale": "fr"}).raise_for_status()
        integration = connect_teams(api, teamsChannels={"alerts": channel(ALERTS)}, messageTemplates={
            "eventReminder": "📅 <b>Rappel</b>: {eventName} commence dans {timeUntil} ({location})",
            "attendanceAlert": "⚠️ Faible présence: {eventName} ({attendanceRate}%)"})
        yield api, integration


def test_a_reminder_arrives_in_the_channel_rendered_and_html_escaped(hub, teams):
    api, integration = teams
    notify(hub, "eventReminder", reminder())
    [message] = wait_until(lambda: posted(hub))
    assert message["channelIdentity"] == {"teamId": TEAM, "channelId": GENERAL} and message["channelName"] == "General"
    body = message["body"]
    assert body["contentType"] == "html"
    headline, details = body["content"].split("</p><p>")
    # The template's markup is the organisation's; the event's data is escaped.
    assert headline == ("<p>📅 <b>Rappel</b>: Formation &lt;RGPD&gt; &amp; &quot;sécurité&quot; commence dans "
                        "15 minutes (Salle 2)")
    assert "Salle 2" in details and "Anne" in details and ("décembre" in details or "202" in details)
    [sent] = wait_until(lambda: stored(api, integration, status="delivered"))
    assert sent["kind"] == "eventReminder" and sent["attempts"] == 1
    detail = api.get(f"/api/integrations/{integration}/webhooks/messages/{sent['id']}").json()["data"]
    assert message["id"] in detail["attemptLog"][-1]["responseExcerpt"]
    # What went to Graph and what it answered are chatMessages.
    log = [e for e in hub.sandbox("microsoft").get("/_control/outlook/log").json()["entries"] if e["path"].startswith("/teams/")]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("POST", f"/teams/{TEAM}/channels/{GENERAL}/messages", 201)]
    model = load()
    assert problems(model, log[0]["body"], "graph.chatMessage", "body") + \
        problems(model, log[0]["response"], "graph.chatMessage", "answer") == []


def test_alerts_go_to_the_alerts_channel_reports_to_the_default_one(hub, teams):
    api, integration = teams
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {
        "teamsChannel": channel(), "teamsChannels": {"alerts": channel(ALERTS)},
        "notificationTypes": ["attendance_alerts", "weekly_reports"],
        "messageTemplates": {"attendanceAlert": "⚠️ Faible présence: {eventName} ({attendanceRate}%)"}}}).raise_for_status()
    notify(hub, "attendanceAlert", reminder(attendanceRate=42.5))
    notify(hub, "weeklyReport", {"period": "S48", "averageAttendanceRate": 80})
    messages = wait_until(lambda: len(m := posted(hub)) == 2 and m)
    by_kind = {m["channelName"]: m["body"]["content"] for m in messages}
    assert by_kind["Alertes présence"].startswith("<p>⚠️ Faible présence: Formation &lt;RGPD&gt; &amp; &quot;sécurité&quot; (42,5%)")
    assert by_kind["General"].startswith("<p>📊 Rapport hebdomadaire de présence")


def test_kinds_turned_off_and_integrations_without_a_channel_send_nothing(hub, teams):
    api, integration = teams
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {
        "teamsChannel": channel(), "notifications": {"eventReminders": False}}}).raise_for_status()
    with hub.client("admin") as other:
        connect_teams(other, teamsChannel=None)  # a calendar-only integration
    notify(hub, "eventReminder", reminder())
    notify(hub, "eventCreated", reminder())  # not a chat kind at all
    hub.run(hub.services.tasks.drain())
    hub.run(hub.services.worker.run_due())
    assert posted(hub) == [] and stored(api, integration) == []


def test_templates_are_checked_like_slacks(hub, teams):
    api, integration = teams
    response = api.put(f"/api/integrations/{integration}/settings", json={"settings": {
        "teamsChannel": channel(), "messageTemplates": {"eventReminder": "Rappel: {eventNom}"}}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "unknown placeholder {eventNom}" in error["message"]


def test_system_notices_in_the_organisations_language(hub, teams):
    notify(hub, "syncErrorNotification", {"provider": "google", "message": "quota <dépassé>", "syncId": "s1",
                                          "status": "failed"})
    [message] = wait_until(lambda: posted(hub))
    assert message["body"]["content"] == "<p>❌ La synchronisation google a échoué : quota &lt;dépassé&gt;</p>"


def test_an_unknown_channel_is_recorded_and_not_retried(hub):
    with hub.client("admin") as api:
        integration = connect_teams(api, teamsChannel=channel("19:gone@thread.tacv2"))
        notify(hub, "eventReminder", reminder())
        view = wait_until(lambda: (v := api.get(f"/api/integrations/{integration}").json()["data"])["lastError"] and v)
        [failed] = stored(api, integration, status="failed")
    assert failed["attempts"] == 1 and failed["lastStatus"] == 404
    assert "Channel not found" in view["lastError"]["message"] and view["status"] == "connected"


def test_without_channel_message_send_the_refusal_is_a_permission_error(hub):
    with hub.client("admin") as api:
        integration = connect_teams(api, scopes=["calendar.read"])
        notify(hub, "eventReminder", reminder())
        [failed] = wait_until(lambda: stored(api, integration, status="failed"))
        report = api.post(f"/api/integrations/{integration}/test").json()["data"]
    assert failed["lastStatus"] == 403
    assert any("teams.messages" in r for r in report["recommendations"])


def test_graphs_429_is_honoured_with_its_retry_after(timed):
    hub = timed
    with hub.client("admin") as api:
        integration = connect_teams(api)
        hub.sandbox("microsoft").post("/_control/faults", json={"path": "/v1.0/teams/", "status": 429, "count": 1,
                                                                "headers": {"Retry-After": "7.5"}})
        notify(hub, "eventReminder", reminder())
        assert hub.run(hub.services.worker.run_due()) == 1
        [message] = stored(api, integration)
        assert message["status"] == "pending" and message["lastStatus"] == 429
        due = datetime.fromisoformat(message["nextAttemptAt"].replace("Z", "+00:00"))
        assert abs((due - hub.clock.now).total_seconds() - 7.5) < 0.01  # Graph's fractional Retry-After
        hub.clock.advance(7)
        assert hub.run(hub.services.worker.run_due()) == 0
        hub.clock.advance(1)
        assert hub.run(hub.services.worker.run_due()) == 1
        assert stored(api, integration)[0]["status"] == "delivered"
    assert len(posted(hub)) == 1


def test_the_sandbox_answers_channel_messages_like_graph(hub):
    with hub.client("admin") as api:
        connect_teams(api)
    control = hub.sandbox("microsoft")
    token = control.get("/_control/tokens").json()["accessTokens"][-1]
    base = f"{hub.services.hub.sandbox_base}/microsoft/v1.0/teams/{TEAM}/channels"

    def post(channel_id, body, token=token):
        return httpx.post(f"{base}/{channel_id}/messages", json=body, headers={"Authorization": f"Bearer {token}"})

    ok = post(GENERAL, {"body": {"contentType": "html", "content": "<p>Bonjour</p>"}})
    assert ok.status_code == 201 and ok.json()["body"]["content"] == "<p>Bonjour</p>"
    assert ok.json()["@odata.context"].endswith("/messages/$entity")
    assert post(GENERAL, {"body": {"content": " "}}).json()["error"]["code"] == "BadRequest"
    assert post(GENERAL, {"text": "x", "body": {"content": "x"}}).status_code == 400
    assert post("19:nope@thread.tacv2", {"body": {"content": "x"}}).json()["error"]["code"] == "NotFound"
    denied = post(GENERAL, {"body": {"content": "x"}}, token="expired")
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_test_message_on_demand_goes_to_each_configured_teams_channel(hub, teams):
    """Notification types turned off do not hold a test notice back: it is asked for."""
    api, integration = teams
    api.put(f"/api/integrations/{integration}/settings",
            json={"settings": {"notificationTypes": []}}).raise_for_status()
    answer = api.post(f"/api/integrations/{integration}/test", json={"sendTestMessage": True})
    assert answer.status_code == 200, answer.text
    channels = answer.json()["data"]["testMessage"]["channels"]
    assert sorted((c["target"], c["status"]) for c in channels) == sorted([(GENERAL, "delivered"), (ALERTS, "delivered")])
    names = sorted(m["channelName"] for m in posted(hub))
    assert names == ["Alertes présence", "General"]
    assert all(m["body"]["content"].startswith("<p>🔔 Message de test d'Attendance-X") for m in posted(hub))
    assert {m["id"] for m in stored(api, integration, kind="testNotification")} == {c["messageId"] for c in channels}
