"""Slack notifications end to end: a hub notification becomes a stored message, posted
by the delivery worker to the right sandbox channel, rendered in the organisation's
language, with mentions — and Slack's refusals recorded where a user sees them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from babel.dates import format_date

from axhub.testing import connect, notify, wait_until

SCOPES = ["messages.send", "channels.read", "users.read", "webhook"]


def posted(hub) -> list[dict]:
    return hub.sandbox("slack").get("/_control/messages").json()["messages"]


@pytest.fixture
def slack(hub):
    with hub.client("admin") as api:
        api.put("/api/organization/settings", json={"timezone": "Europe/Paris", "locale": "fr"}).raise_for_status()
        data = connect(api, "slack", scopes=SCOPES, settings={
            "channels": {"default": "#general", "alerts": "#attendance-alerts"},
            "messageTemplates": {"eventReminder": "📅 Rappel: {eventName} commence dans {timeUntil} ({location})",
                                 "attendanceAlert": "⚠️ Faible présence: {eventName} ({attendanceRate}%)"},
            "userMentions": {"enabled": True, "mentionOrganizers": True, "mentionManagers": True},
        })
        yield api, data["integrationId"]


def reminder(start_in=timedelta(minutes=15), **more):
    start = datetime.now(timezone.utc) + start_in
    return {"eventId": "evt-1", "title": "Formation <RGPD> & sécurité", "start": start.isoformat(),
            "location": "Salle 2", "organizer": {"email": "anne@example.com", "name": "Anne"},
            "attendees": [{"email": "paul@example.com", "role": "manager"}, {"email": "zoe@example.com", "role": "attendee"}],
            **more}


def test_a_reminder_arrives_rendered_escaped_with_mentions(hub, slack):
    api, integration = slack
    control = hub.sandbox("slack")
    control.post("/_control/members", json={"id": "U0ANNE00001", "email": "anne@example.com", "name": "Anne"})
    control.post("/_control/members", json={"id": "U0PAUL00001", "email": "paul@example.com", "name": "Paul"})
    notify(hub, "eventReminder", reminder())
    [message] = wait_until(lambda: posted(hub))
    assert message["channelName"] == "general" and message["via"] == "chat.postMessage"
    assert message["text"] == ("📅 Rappel: Formation &lt;RGPD&gt; &amp; sécurité commence dans 15 minutes (Salle 2) "
                               "<@U0ANNE00001> <@U0PAUL00001>")
    assert message["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": message["text"]}}
    assert "Salle 2" in message["blocks"][1]["elements"][0]["text"]
    assert "novembre" in message["blocks"][1]["elements"][0]["text"] or "202" in message["blocks"][1]["elements"][0]["text"]
    # The delivery is on record: the integration counts it.
    view = wait_until(lambda: (v := api.get(f"/api/integrations/{integration}").json()["data"])["statistics"]
                      .get("messagesSent") and v)
    assert view["statistics"]["messagesSent"] == 1 and view["statistics"]["channelsConnected"] == 1
    assert view["statistics"]["activeUsers"] == 2
    # Mentions were looked up once each, then cached.
    lookups = control.get("/_control/messages").json()["lookups"]
    notify(hub, "eventReminder", reminder(eventId="evt-2"))
    wait_until(lambda: len(posted(hub)) == 2)
    assert control.get("/_control/messages").json()["lookups"] == lookups


def test_alerts_go_to_the_alerts_channel_and_unknown_people_are_skipped(hub, slack):
    control = hub.sandbox("slack")
    control.post("/_control/channels", json={"id": "C0SBXALERT1", "name": "attendance-alerts", "botMember": True})
    notify(hub, "attendanceAlert", reminder(attendanceRate=42.5))
    [message] = wait_until(lambda: posted(hub))
    assert message["channelName"] == "attendance-alerts"
    assert message["text"] == "⚠️ Faible présence: Formation &lt;RGPD&gt; &amp; sécurité (42,5%)"  # nobody known


def test_a_notification_twice_is_one_message(hub, slack):
    notify(hub, "eventReminder", reminder(), id="sig-once")
    notify(hub, "eventReminder", reminder(), id="sig-once")
    wait_until(lambda: posted(hub))
    time.sleep(1.2)
    assert len(posted(hub)) == 1


def test_kinds_the_settings_turn_off_are_not_sent(hub, slack):
    api, integration = slack
    api.put(f"/api/integrations/{integration}/settings",
            json={"settings": {"notificationTypes": ["attendance_alerts"], "channels": {"default": "#general"}}}
            ).raise_for_status()
    notify(hub, "eventReminder", reminder())
    notify(hub, "eventCreated", reminder())  # not a Slack kind at all
    hub.run(hub.services.worker.run_due())
    assert posted(hub) == []


def test_a_channel_the_bot_is_not_in_falls_back_to_the_install_webhook(hub, slack):
    api, integration = slack
    notify(hub, "attendanceAlert", reminder(attendanceRate=10))
    [message] = wait_until(lambda: posted(hub))
    assert (message["channelName"], message["via"]) == ("general", "incoming-webhook")
    [stored] = wait_until(lambda: [m for m in api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
                                   if m["status"] == "delivered"])
    detail = api.get(f"/api/integrations/{integration}/webhooks/messages/{stored['id']}").json()["data"]
    assert "not_in_channel" in detail["attemptLog"][-1]["responseExcerpt"]


def test_slack_refusals_are_recorded_and_a_dead_token_puts_the_integration_in_error(hub):
    with hub.client("admin") as api:
        integration = connect(api, "slack", scopes=["messages.send", "channels.read"],
                              settings={"channels": {"default": "#nowhere"}})["integrationId"]
        notify(hub, "eventReminder", reminder())
        view = wait_until(lambda: (v := api.get(f"/api/integrations/{integration}").json()["data"])["lastError"] and v)
        assert view["lastError"]["code"] == "CONNECTION_ERROR" and "channel_not_found" in view["lastError"]["message"]
        assert view["status"] == "connected"
        [failed] = api.get(f"/api/integrations/{integration}/webhooks/messages", params={"status": "failed"}).json()["data"]
        assert failed["attempts"] == 1  # Slack's answer will not change: not retried

        api.put(f"/api/integrations/{integration}/settings",
                json={"settings": {"channels": {"default": "#general"}}}).raise_for_status()
        hub.sandbox("slack").post("/_control/revoke-all")
        notify(hub, "eventReminder", reminder(eventId="evt-9"))
        view = wait_until(lambda: (v := api.get(f"/api/integrations/{integration}").json()["data"])["status"] == "error" and v)
        assert view["lastError"]["code"] == "INVALID_CREDENTIALS" and "invalid_auth" in view["lastError"]["message"]
    assert posted(hub) == []


def test_a_burst_to_one_channel_is_paced_under_slacks_limit(hub, slack):
    api, integration = slack
    for n in range(5):
        notify(hub, "eventReminder", reminder(eventId=f"evt-{n}"))
    wait_until(lambda: len(posted(hub)) == 5, timeout=30)
    # The sandbox has a post before the hub records its attempt: wait for the records.
    def recorded():
        data = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
        return data if len(data) == 5 and all(m["status"] == "delivered" for m in data) else None

    stored = wait_until(recorded)
    assert [m["attempts"] for m in stored] == [1] * 5  # no 429 on the way: nothing retried


def test_slacks_429_is_honoured_with_its_retry_after(timed):
    hub = timed
    with hub.client("admin") as api:
        integration = connect(api, "slack", scopes=SCOPES, settings={"channels": {"default": "#general"}})["integrationId"]
        hub.sandbox("slack").post("/_control/faults", json={"path": "/api/chat.postMessage", "status": 429, "count": 1})
        notify(hub, "eventReminder", reminder())
        assert hub.run(hub.services.worker.run_due()) == 1
        [message] = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
        assert message["status"] == "pending" and message["lastStatus"] == 429
        due = datetime.fromisoformat(message["nextAttemptAt"].replace("Z", "+00:00"))
        assert round((due - hub.clock.now).total_seconds()) == 30  # the sandbox's Retry-After
        hub.clock.advance(29)
        assert hub.run(hub.services.worker.run_due()) == 0
        hub.clock.advance(1)
        assert hub.run(hub.services.worker.run_due()) == 1
        assert api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"][0]["status"] == "delivered"
    assert len(posted(hub)) == 1


def test_done_when_an_event_starting_soon_is_reminded_in_slack(hub, slack):
    """From the API alone: Slack connected and configured, an event starting in 15
    minutes; the scheduler's reminder job runs; the reminder is in #general, rendered in
    French, with the organizer mentioned."""
    from axhub.scheduler.jobs import run_job

    api, integration = slack
    hub.sandbox("slack").post("/_control/members", json={"id": "U0ANNE00001", "email": "anne@example.com"})
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=15)
    created = api.post("/api/events", json={
        "title": "Atelier Slack & Co", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Paris", "location": "Salle 2", "organizer": {"email": "anne@example.com", "name": "Anne"},
    })
    assert created.status_code == 201, created.text
    at = start - timedelta(minutes=15)
    assert hub.run(run_job(hub.services, "reminders", at)) == 1
    assert hub.run(run_job(hub.services, "reminders", at)) == 0  # once, however often the job runs
    [message] = wait_until(lambda: posted(hub))
    assert message["channelName"] == "general"
    assert message["text"] == "📅 Rappel: Atelier Slack &amp; Co commence dans 15 minutes (Salle 2) <@U0ANNE00001>"
    bad = api.put(f"/api/integrations/{integration}/settings",
                  json={"settings": {"messageTemplates": {"eventReminder": "Rappel {eventNom}"}}})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "settings.messageTemplates.eventReminder"
    assert "unknown placeholder {eventNom}" in bad.json()["error"]["message"]


def test_time_until_counts_from_the_moment_the_job_acts_for_not_the_wall_clock(hub, slack):
    """An event 30 minutes away, the job acting for 15 minutes before it: the reminder
    says 15 minutes (the wall clock would say 29 or 30)."""
    api, _ = slack
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=30)
    created = api.post("/api/events", json={
        "title": "Atelier", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Paris", "location": "Salle 2"})
    assert created.status_code == 201, created.text
    assert run(hub, "reminders", start - timedelta(minutes=15)) == 1
    [message] = wait_until(lambda: posted(hub))
    assert message["text"] == "📅 Rappel: Atelier commence dans 15 minutes (Salle 2)", message["text"]


# -- weekly reports and system notifications ------------------------------------------------

def next_monday_8am_paris():
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, datetime.min.time().replace(hour=8), tzinfo=ZoneInfo("Europe/Paris"))


def run(hub, job, at):
    from axhub.scheduler.jobs import run_job

    sent = hub.run(run_job(hub.services, job, at))
    hub.run(hub.services.tasks.drain())  # the broadcast to notify
    return sent


def test_weekly_reports_go_to_the_reports_channel_else_the_default(hub, slack):
    api, integration = slack
    hub.sandbox("slack").post("/_control/channels", json={"id": "C0SBXRPRTS1", "name": "reports", "botMember": True})
    settings = {"channels": {"default": "#general", "alerts": "#attendance-alerts", "reports": "#reports"},
                "notifications": {"weeklyReports": True},  # weekly reports are opt-in
                "messageTemplates": {"weeklyReport": "📊 Rapport de présence, semaine du {period}"}}
    # The integration's own notifications.weeklyReport is what makes the scheduler write one.
    api.put(f"/api/integrations/{integration}/settings",
            json={"settings": settings, "notifications": {"weeklyReport": True}}).raise_for_status()
    monday = next_monday_8am_paris()
    assert run(hub, "weekly-report", monday) == 1
    [report] = wait_until(lambda: posted(hub))
    assert (report["channelName"], report["via"]) == ("reports", "chat.postMessage")
    # The week before that Monday, Monday to Sunday, in French.
    first, last = (format_date(monday.date() - timedelta(days=d), "full", locale="fr") for d in (7, 1))
    assert first.startswith("lundi") and last.startswith("dimanche")
    assert report["text"] == f"📊 Rapport de présence, semaine du {first} – {last}"

    # Without channels.reports, reports go to the default channel.
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {
        **settings, "channels": {"default": "#general", "alerts": "#attendance-alerts"}}}).raise_for_status()
    assert run(hub, "weekly-report", monday + timedelta(days=7)) == 1
    second = wait_until(lambda: posted(hub)[1:])[0]
    assert (second["channelName"], second["via"]) == ("general", "chat.postMessage")


def test_weekly_reports_are_not_posted_unless_enabled(hub, slack):
    api, integration = slack
    # The hub writes the report (another integration may want it); this one's Slack settings do not.
    api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"weeklyReport": True}}).raise_for_status()
    assert run(hub, "weekly-report", next_monday_8am_paris()) == 1
    hub.run(hub.services.worker.run_due())
    assert posted(hub) == []


def test_system_notifications_go_to_the_default_channel_not_alerts(hub, slack):
    api, integration = slack
    notify(hub, "syncErrorNotification", {"integrationId": "int-g", "provider": "google", "name": "Agenda",
                                          "syncId": "sync-1", "status": "failed", "statistics": {},
                                          "message": "quota <dépassé> & réessai"})
    [message] = wait_until(lambda: posted(hub))
    assert (message["channelName"], message["via"]) == ("general", "chat.postMessage")
    assert message["text"] == "❌ La synchronisation google a échoué : quota &lt;dépassé&gt; &amp; réessai"
    # Another integration's failed delivery, as the hub's delivery worker tells of it.
    notify(hub, "integrationError", {"integrationId": "int-w", "provider": "webhooks", "target": "https://x.example",
                                     "messageId": "msg-1", "kind": "eventCreated", "attempts": 5, "httpStatus": 503,
                                     "error": "the receiver answered 503", "code": "WEBHOOK_FAILED"})
    second = wait_until(lambda: posted(hub)[1:])[0]
    assert second["channelName"] == "general"
    assert second["text"] == "⚠️ Intégration webhooks en erreur : the receiver answered 503"
    # Slack's own failures are not posted to Slack (they may be why nothing can be posted).
    notify(hub, "integrationError", {"integrationId": integration, "provider": "slack", "error": "invalid_auth"})
    notify(hub, "syncErrorNotification", {"provider": "google", "syncId": "sync-2", "status": "partial"},)
    api.put(f"/api/integrations/{integration}/settings", json={"settings": {
        "channels": {"default": "#general"}, "notificationTypes": ["event_reminders"]}}).raise_for_status()
    notify(hub, "syncErrorNotification", {"provider": "google", "syncId": "sync-3", "status": "failed", "message": "x"})
    hub.run(hub.services.worker.run_due())
    assert len(wait_until(lambda: posted(hub)[2:])) == 1  # sync-2 only: sync-3 came after system notices were turned off


# -- Slack's ratelimited in an HTTP 200 body ---------------------------------------------------

@pytest.mark.parametrize("retry_after", ["12", None])
def test_ratelimited_in_an_http_200_body_is_retried_not_failed(timed, retry_after):
    hub = timed
    with hub.client("admin") as api:
        integration = connect(api, "slack", scopes=SCOPES, settings={"channels": {"default": "#general"}})["integrationId"]
        hub.sandbox("slack").post("/_control/faults", json={
            "path": "/api/chat.postMessage", "status": 200, "count": 1, "body": {"ok": False, "error": "ratelimited"},
            "headers": {"Retry-After": retry_after} if retry_after else {}})
        notify(hub, "eventReminder", reminder())
        assert hub.run(hub.services.worker.run_due()) == 1
        [message] = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
        assert message["status"] == "pending" and message["attempts"] == 1 and "ratelimited" in message["lastError"]
        wait = (datetime.fromisoformat(message["nextAttemptAt"].replace("Z", "+00:00")) - hub.clock.now).total_seconds()
        if retry_after:
            assert round(wait) == 12  # Slack's Retry-After, even on a 200
        else:
            assert 1 <= wait <= 60  # no word from Slack: the hub's backoff, short
        view = api.get(f"/api/integrations/{integration}").json()["data"]
        assert view["status"] == "connected" and view["lastError"] is None  # throttling is not a fault
        hub.clock.advance(wait + 0.5)
        assert hub.run(hub.services.worker.run_due()) == 1
        [message] = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
        assert message["status"] == "delivered" and message["attempts"] == 2
    assert len(posted(hub)) == 1


# -- a test notice on demand ---------------------------------------------------------------

def test_a_test_message_on_demand_goes_to_each_configured_channel_and_is_logged(hub, slack):
    api, integration = slack
    plain = api.post(f"/api/integrations/{integration}/test")
    assert plain.status_code == 200 and "testMessage" not in plain.json()["data"]
    assert posted(hub) == []  # a connection test alone posts nothing
    answer = api.post(f"/api/integrations/{integration}/test", json={"sendTestMessage": True})
    assert answer.status_code == 200, answer.text
    channels = answer.json()["data"]["testMessage"]["channels"]
    assert sorted((c["target"], c["status"]) for c in channels) == [
        ("#attendance-alerts", "delivered"), ("#general", "delivered")], channels
    # The bot is not in #attendance-alerts: Slack refuses it and that message goes
    # through the install webhook instead — two messages all the same.
    assert [m["text"] for m in posted(hub)] == ["🔔 Message de test d'Attendance-X : les notifications Slack arrivent ici"] * 2
    log = api.get(f"/api/integrations/{integration}/webhooks/messages", params={"kind": "testNotification"}).json()["data"]
    assert sorted((m["target"], m["status"]) for m in log) == sorted((c["target"], c["status"]) for c in channels)
    assert {m["id"] for m in log} == {c["messageId"] for c in channels}


def test_a_test_message_slack_refuses_is_reported_failed_with_slacks_words(hub, slack):
    api, integration = slack
    hub.sandbox("slack").post("/_control/faults", json={"path": "/api/chat.postMessage", "status": 403, "count": 20})
    answer = api.post(f"/api/integrations/{integration}/test", json={"sendTestMessage": True})
    channels = answer.json()["data"]["testMessage"]["channels"]
    assert sorted(c["target"] for c in channels) == ["#attendance-alerts", "#general"]
    assert all(c["status"] == "failed" and c["error"] for c in channels), channels
    assert posted(hub) == []


@pytest.mark.parametrize("body", [{"sendTestMessage": "yes"}, {"sendTestMessage": None}, {"sendTestMessages": True}])
def test_a_bad_test_message_option_is_refused_naming_the_field(hub, slack, body):
    api, integration = slack
    answer = api.post(f"/api/integrations/{integration}/test", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["field"] == next(iter(body)), error
    assert posted(hub) == []


def test_the_cli_sends_the_same_test_message(hub, slack):
    import json
    import os
    import subprocess
    import sys

    api, integration = slack

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "axhub.cli", "integrations", "test", *args],
                              env={**os.environ, **hub.env}, capture_output=True, text=True, timeout=120)

    out = cli(integration, "--send-test-message")
    assert out.returncode == 0, out.stderr
    channels = json.loads(out.stdout)["testMessage"]["channels"]
    assert sorted((c["target"], c["status"]) for c in channels) == [
        ("#attendance-alerts", "delivered"), ("#general", "delivered")], channels
    assert len(posted(hub)) == 2
    log = api.get(f"/api/integrations/{integration}/webhooks/messages", params={"kind": "testNotification"}).json()["data"]
    assert {m["id"] for m in log} == {c["messageId"] for c in channels}
    without = cli(integration)
    assert without.returncode == 0 and "testMessage" not in json.loads(without.stdout)
    missing = cli("int-nope", "--send-test-message")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
