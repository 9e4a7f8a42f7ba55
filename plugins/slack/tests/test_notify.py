"""Slack notifications end to end: a hub notification becomes a stored message, posted
by the delivery worker to the right sandbox channel, rendered in the organisation's
language, with mentions — and Slack's refusals recorded where a user sees them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

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
    stored = api.get(f"/api/integrations/{integration}/webhooks/messages").json()["data"]
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
