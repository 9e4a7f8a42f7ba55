"""The scheduler's notifications: event reminders, attendance alerts, the weekly report,
sync error/success notices — each broadcast to ``notify`` once, however many times (or
from however many hubs) its job runs. Jobs run for a chosen moment through
``axhub.scheduler.jobs.run_job`` (what ``axhub jobs run NAME --at`` calls): no waiting."""

import asyncio
import contextlib
import time
from datetime import datetime, timedelta, timezone

from axhub import ProviderInfo, hookimpl
from axhub.scheduler.jobs import run_job
from axhub.testing import connect


@contextlib.contextmanager
def listening(*hubs):
    """Every notification the hubs broadcast, as (kind, org, data)."""
    heard = []

    class Listener:
        @hookimpl
        def provider_info(self):
            return ProviderInfo(slug="listener", name="Listener", type="communication", description="test")

        @hookimpl
        async def notify(self, ctx, notification):
            heard.append((notification.kind, notification.org_id, notification.data, notification.dedupe_key))

    for hub in hubs:
        hub.services.plugins.register(Listener(), "listener")
    try:
        yield heard
    finally:
        for hub in hubs:
            hub.run(hub.services.tasks.drain())
            hub.services.plugins.pm.unregister(name="listener")
            del hub.services.plugins.records["listener"]


def of(heard, kind):
    return [h for h in heard if h[0] == kind]


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def job(hub, name, at, **kw):
    result = hub.run(run_job(hub.services, name, at, **kw))
    hub.run(hub.services.tasks.drain())
    return result


def event(api, start, minutes=60, **extra):
    body = {"title": extra.pop("title", "Formation sécurité"), "start": iso(start),
            "end": iso(start + timedelta(minutes=minutes)), **extra}
    response = api.post("/api/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


NOW = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)


def test_reminders_at_each_configured_time_once(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        api.put(f"/api/integrations/{integration}/settings",
                json={"settings": {"notifications": {"reminders": True, "reminderMinutes": [15, 60]}}})
        ev = event(api, NOW + timedelta(hours=2))
        start = NOW + timedelta(hours=2)
        assert job(hub, "reminders", start - timedelta(minutes=61)) == 0  # not yet
        assert job(hub, "reminders", start - timedelta(minutes=60)) == 1
        assert job(hub, "reminders", start - timedelta(minutes=58)) == 0  # a restart runs it again: not sent twice
        assert job(hub, "reminders", start - timedelta(minutes=15)) == 1
        assert job(hub, "reminders", start - timedelta(minutes=15)) == 0
        sent = of(heard, "eventReminder")
        assert [(h[2]["eventId"], h[2]["minutesBefore"], h[2]["timeUntil"]) for h in sent] == [
            (ev["id"], 60, "1 hour"), (ev["id"], 15, "15 minutes")]
        assert all(h[1] == "org-1" and h[3] for h in sent)


def test_a_reminder_is_sent_once_by_two_hubs_on_one_database(make_hub, new_database):
    url = new_database()
    one, two = make_hub({"AXHUB_PLUGINS": "google"}, database_url=url), make_hub({"AXHUB_PLUGINS": "google"}, database_url=url)
    with one.client("manager") as api, listening(one, two) as heard:
        connect(api, "google")
        start = NOW + timedelta(hours=1)
        event(api, start)
        at = start - timedelta(minutes=15)  # the hub's default reminder time
        a = asyncio.run_coroutine_threadsafe(run_job(one.services, "reminders", at), one.loop)
        b = asyncio.run_coroutine_threadsafe(run_job(two.services, "reminders", at), two.loop)
        assert sorted([a.result(30), b.result(30)]) == [0, 1]
    assert len(of(heard, "eventReminder")) == 1


def test_a_low_attendance_rate_raises_one_alert(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        connect(api, "google")
        start = NOW - timedelta(hours=3)
        people = [{"email": f"p{i}@techcorp.com", "name": f"P{i}"} for i in range(4)]
        low = event(api, start, title="Low", attendees=people)
        high = event(api, start, title="High", attendees=people)
        unrecorded = event(api, start, title="Nobody counted", attendees=people)
        api.put(f"/api/events/{low['id']}/attendance", json={"records": [{"email": "p0@techcorp.com", "status": "present"}]})
        api.put(f"/api/events/{high['id']}/attendance", json={"records": [
            {"email": f"p{i}@techcorp.com", "status": "present"} for i in range(3)]})
        during = start + timedelta(minutes=30)
        assert job(hub, "attendance-alerts", during) == 0  # not over yet
        assert job(hub, "attendance-alerts", NOW) == 1
        assert job(hub, "attendance-alerts", NOW + timedelta(minutes=5)) == 0
        alerts = of(heard, "attendanceAlert")
        assert [(h[2]["eventId"], h[2]["attendanceRate"], h[2]["threshold"]) for h in alerts] == [(low["id"], 25.0, 50.0)]
        assert unrecorded["id"] not in {h[2]["eventId"] for h in alerts}


def test_weekly_report_goes_to_organisations_that_asked_once_a_week(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        today = datetime.now(timezone.utc)
        monday = (today + timedelta(days=7 - today.weekday())).replace(hour=8, minute=0, second=0, microsecond=0)
        assert job(hub, "weekly-report", monday) == 0  # weeklyReport is off by default
        api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"weeklyReport": True}})
        assert job(hub, "weekly-report", monday) == 1
        assert job(hub, "weekly-report", monday + timedelta(hours=1)) == 0
        assert job(hub, "weekly-report", monday + timedelta(days=7)) == 1  # the next week
        reports = of(heard, "weeklyReport")
        assert len(reports) == 2
        first = reports[0][2]
        assert first["period"]["end"] == monday.replace(hour=0).isoformat()
        assert first["integrations"][0]["integrationId"] == integration
        # The initial sync of this week shows in the week it ran in.
        assert reports[0][2]["integrations"][0]["syncs"] + reports[1][2]["integrations"][0]["syncs"] >= 1


def test_sync_notices_follow_the_integrations_notifications(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sb, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        hub.run(hub.services.tasks.drain())  # the initial sync
        finished = lambda: [r for r in api.get(f"/api/integrations/{integration}/history").json()["data"]  # noqa: E731
                            if r["status"] not in ("started", "running")]

        def sync():
            count = len(finished())
            assert api.post(f"/api/integrations/{integration}/sync", json={}).status_code == 202
            deadline = time.monotonic() + 30
            while len(finished()) == count:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            hub.run(hub.services.tasks.drain())

        sync()  # syncSuccess is off by default
        assert of(heard, "syncSuccessNotification") == []
        api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"syncSuccess": True}})
        sync()
        assert len(of(heard, "syncSuccessNotification")) == 1
        sb.post("/_control/faults", json={"path": "/calendar/v3", "status": 400, "count": 100})
        sync()
        errors = of(heard, "syncErrorNotification")
        assert len(errors) == 1 and errors[0][2]["status"] == "failed" and errors[0][2]["integrationId"] == integration
        api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"syncErrors": False}})
        sync()
        assert len(of(heard, "syncErrorNotification")) == 1


def test_idle_grants_are_refreshed_ahead_of_expiry(hub):
    with hub.client("manager") as api, hub.sandbox("zoom") as sb:
        sb.post("/_control/config", json={"accessTokenTtl": 120})  # inside the refresh margin at once
        connect(api, "zoom")
        sb.post("/_control/config", json={"accessTokenTtl": 3600})
        assert sb.get("/_control/stats").json()["counters"].get("token.refresh_token", 0) == 0
        assert job(hub, "token-refresh", datetime.now(timezone.utc)) == 1
        assert sb.get("/_control/stats").json()["counters"]["token.refresh_token"] == 1
        assert job(hub, "token-refresh", datetime.now(timezone.utc)) == 0  # fresh for an hour now
