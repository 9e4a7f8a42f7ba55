"""The scheduler's notifications: event reminders, attendance alerts, the weekly report,
sync error/success notices — each broadcast to ``notify`` once, however many times (or
from however many hubs) its job runs. Jobs run for a chosen moment through
``axhub.scheduler.jobs.run_job`` (what ``axhub jobs run NAME --at`` calls): no waiting."""

import asyncio
import contextlib
import time
from datetime import datetime, time as dtime, timedelta, timezone
from zoneinfo import ZoneInfo

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


def test_a_zero_minute_reminder_is_sent_at_the_start(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        changed = api.put(f"/api/integrations/{integration}/settings",
                          json={"settings": {"notifications": {"reminders": True, "reminderMinutes": [0, 15]}}})
        assert changed.status_code == 200, changed.text
        start = NOW + timedelta(hours=3)
        ev = event(api, start)
        assert job(hub, "reminders", start - timedelta(minutes=15)) == 1
        assert job(hub, "reminders", start - timedelta(minutes=1)) == 0  # not yet
        assert job(hub, "reminders", start) == 1
        assert job(hub, "reminders", start + timedelta(minutes=1)) == 0  # the next run of the job: not again
        sent = of(heard, "eventReminder")
        assert [(h[2]["eventId"], h[2]["minutesBefore"], h[2]["timeUntil"]) for h in sent] == [
            (ev["id"], 15, "15 minutes"), (ev["id"], 0, "0 minutes")]


def test_a_zero_minute_reminder_missed_by_a_restart_is_sent_a_little_late(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        api.put(f"/api/integrations/{integration}/settings",
                json={"settings": {"notifications": {"reminders": True, "reminderMinutes": [0, 5]}}}).raise_for_status()
        start = NOW + timedelta(hours=4)
        event(api, start)
        # No process ran from 6 minutes before the start until 3 minutes after it.
        assert job(hub, "reminders", start + timedelta(minutes=3)) == 1
        # The 5-minute one is not sent once the event is under way.
        assert [h[2]["minutesBefore"] for h in of(heard, "eventReminder")] == [0]
        assert job(hub, "reminders", start + timedelta(minutes=11)) == 0


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


def test_each_organisation_is_alerted_under_its_own_threshold(hub):
    """org-1 asks for 80 %, org-3 for 20 %, org-2 keeps the hub's 50 %: three out of
    four present alerts org-1 only, one out of four org-2 only."""
    people = [{"email": f"p{i}@techcorp.com", "name": f"P{i}"} for i in range(4)]
    start = NOW - timedelta(hours=3)
    ids = {}
    with listening(hub) as heard:
        for org, threshold in (("org-1", 0.8), ("org-2", None), ("org-3", 0.2)):
            with hub.client("admin", org=org) as api:
                if threshold is not None:
                    changed = api.put("/api/organization/settings",
                                      json={"timezone": "Europe/Paris", "locale": "fr", "attendanceAlertThreshold": threshold})
                    assert changed.status_code == 200, changed.text
                    assert changed.json()["data"]["attendanceAlertThreshold"] == threshold
                connect(api, "google")
                for present in (3, 1):
                    ev = event(api, start, title=f"{present} of 4", attendees=people)
                    api.put(f"/api/events/{ev['id']}/attendance", json={"records": [
                        {"email": f"p{i}@techcorp.com", "status": "present"} for i in range(present)]}).raise_for_status()
                    ids[ev["id"]] = (org, present)
        assert job(hub, "attendance-alerts", NOW) == 3
        assert job(hub, "attendance-alerts", NOW + timedelta(minutes=5)) == 0
        alerts = of(heard, "attendanceAlert")
    assert sorted((h[1], ids[h[2]["eventId"]][1], h[2]["attendanceRate"], h[2]["threshold"]) for h in alerts) == [
        ("org-1", 1, 25.0, 80.0), ("org-1", 3, 75.0, 80.0), ("org-2", 1, 25.0, 50.0)]


def test_the_organisations_threshold_is_checked_and_kept(hub):
    url = "/api/organization/settings"
    with hub.client("admin", org="org-t") as api:
        assert api.get(url).json()["data"]["attendanceAlertThreshold"] is None  # the hub's default
        base = {"timezone": "America/Montreal", "locale": "fr"}
        for bad in (1.5, -0.1, 50, "high", True):
            response = api.put(url, json={**base, "attendanceAlertThreshold": bad})
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
            assert response.json()["error"]["field"] == "attendanceAlertThreshold", (bad, response.json())
        assert api.get(url).json()["data"] == {**base, "timezone": "Europe/Paris", "attendanceAlertThreshold": None}
        assert api.put(url, json={**base, "attendanceAlertThreshold": 0.65}).json()["data"]["attendanceAlertThreshold"] == 0.65
        # A client that knows only the time zone and locale leaves it as it was.
        assert api.put(url, json={**base, "locale": "en"}).json()["data"] == {
            **base, "locale": "en", "attendanceAlertThreshold": 0.65}
        assert api.get(url).json()["data"]["attendanceAlertThreshold"] == 0.65
        assert api.put(url, json={**base, "attendanceAlertThreshold": 1}).json()["data"]["attendanceAlertThreshold"] == 1
        assert api.put(url, json={**base, "attendanceAlertThreshold": None}).json()["data"]["attendanceAlertThreshold"] is None
    with hub.client("manager", org="org-t") as api:
        assert api.put(url, json={**base, "attendanceAlertThreshold": 0.9}).status_code == 403
        assert api.get(url).json()["data"]["attendanceAlertThreshold"] is None


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
        # An organisation that never set its time zone counts its weeks in Paris.
        paris = datetime.combine(monday.date(), dtime(0), tzinfo=ZoneInfo("Europe/Paris"))
        assert first["period"]["end"] == paris.isoformat() and first["period"]["timezone"] == "Europe/Paris"
        assert first["period"]["start"] == (paris - timedelta(days=7)).isoformat()
        assert first["integrations"][0]["integrationId"] == integration
        # The initial sync of this week shows in the week it ran in.
        assert reports[0][2]["integrations"][0]["syncs"] + reports[1][2]["integrations"][0]["syncs"] >= 1


def test_weekly_report_counts_the_organisations_week_and_goes_out_at_its_monday_8am(hub):
    """Auckland's Monday 08:00 is Sunday evening in UTC, Los Angeles' Monday afternoon:
    each organisation gets its report at its own 08:00, on its own week's events."""
    zones = {"org-1": ZoneInfo("Pacific/Auckland"), "org-2": ZoneInfo("America/Los_Angeles")}
    today = datetime.now(timezone.utc).date()
    monday = today + timedelta(days=14 - today.weekday())
    ends = {org: datetime.combine(monday, dtime(0), tzinfo=zone) for org, zone in zones.items()}
    events = {}
    with listening(hub) as heard:
        for org, zone in zones.items():
            with hub.client("admin", org=org) as api:
                api.put("/api/organization/settings", json={"timezone": zone.key, "locale": "en"}).raise_for_status()
                integration = connect(api, "google")["integrationId"]
                api.put(f"/api/integrations/{integration}/settings",
                        json={"notifications": {"weeklyReport": True}}).raise_for_status()
                end = ends[org]
                # Local Monday 01:00 on either side: in UTC, each is in the other week.
                events[org] = event(api, end - timedelta(days=7) + timedelta(hours=1), title="First of the week")["id"]
                event(api, end + timedelta(hours=1), title="First of the next week")
                event(api, end - timedelta(minutes=30), title="Last of the week")
        hub.run(hub.services.tasks.drain())
        auckland, los_angeles = ends["org-1"] + timedelta(hours=8), ends["org-2"] + timedelta(hours=8)
        assert auckland.astimezone(timezone.utc).weekday() == 6  # Sunday, in UTC
        assert job(hub, "weekly-report", auckland - timedelta(minutes=15)) == 0
        assert job(hub, "weekly-report", auckland) == 1  # Auckland's only: not yet Monday 08:00 in LA
        assert job(hub, "weekly-report", auckland + timedelta(minutes=15)) == 0
        assert job(hub, "weekly-report", los_angeles - timedelta(minutes=15)) == 0
        assert job(hub, "weekly-report", los_angeles) == 1
        assert job(hub, "weekly-report", los_angeles + timedelta(hours=3)) == 0
        reports = of(heard, "weeklyReport")
    assert [r[1] for r in reports] == ["org-1", "org-2"]
    for (_, org, data, _) in reports:
        end = ends[org]
        assert data["period"] == {"start": (end - timedelta(days=7)).isoformat(), "end": end.isoformat(),
                                  "week": "{}-W{:02d}".format(*(end - timedelta(days=7)).isocalendar()[:2]),
                                  "timezone": zones[org].key}
        assert data["events"] == 2  # the first and the last of its week, not the next week's


def test_a_weekly_report_missed_by_a_restart_is_sent_later_that_day_only(hub):
    with hub.client("manager") as api, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"weeklyReport": True}})
        today = datetime.now(timezone.utc).date()
        monday = datetime.combine(today + timedelta(days=7 - today.weekday()), dtime(8), tzinfo=ZoneInfo("Europe/Paris"))
        assert job(hub, "weekly-report", monday + timedelta(hours=5)) == 1  # no process ran at 08:00
        assert job(hub, "weekly-report", monday + timedelta(days=8, hours=1)) == 0  # a Tuesday: too late to be news
        assert job(hub, "weekly-report", monday + timedelta(days=14)) == 1
    assert [r[2]["period"]["end"] for r in of(heard, "weeklyReport")] == [
        (monday - timedelta(hours=8)).isoformat(), (monday + timedelta(days=14, hours=-8)).isoformat()]


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


def test_idle_refreshes_count_in_analytics_for_their_organisation(hub):
    """The scheduler's token calls are provider calls like any other: each shows in the
    analytics of the organisation whose grant it renewed, not another's, not nobody's."""
    url = "/api/integrations/analytics/metrics"

    def calls(org):
        with hub.client("admin", org=org) as api:
            data = api.get(url, params={"period": "day", "providers": "zoom"}).json()["data"]
        return data["byProvider"].get("zoom", {}).get("apiCalls", 0), data["trends"]["responseTime"][-1]["calls"]

    with hub.sandbox("zoom") as sb:
        sb.post("/_control/config", json={"accessTokenTtl": 120})  # inside the refresh margin at once
        for org in ("org-1", "org-2"):
            with hub.client("manager", org=org) as api:
                connect(api, "zoom")
        sb.post("/_control/config", json={"accessTokenTtl": 3600})
        hub.run(hub.services.tasks.drain())
        before = {org: calls(org) for org in ("org-1", "org-2")}
        assert job(hub, "token-refresh", datetime.now(timezone.utc)) == 2
        assert sb.get("/_control/stats").json()["counters"]["token.refresh_token"] == 2
        after = {org: calls(org) for org in ("org-1", "org-2")}
    for org in ("org-1", "org-2"):
        assert after[org][0] == before[org][0] + 1, (org, before, after)  # one token call each
        assert after[org][1] == before[org][1] + 1


def test_a_sync_notice_is_committed_with_the_runs_final_record(hub):
    """The notice is written to the outbox in the transaction that records the run
    finished (and releases its lock), never in a later one that a crash could prevent:
    whoever sees the run finished can count on the notice going out."""
    from sqlalchemy import event as orm_event
    from sqlalchemy.orm import Session

    from axhub.db import SignalOutbox

    committed = []

    def flushed(session, _context):
        kinds = [o.kind for o in session.new if isinstance(o, SignalOutbox)]
        session.info.setdefault("test.outbox", []).extend(kinds)

    def done(session):
        if kinds := session.info.pop("test.outbox", None):
            committed.append(kinds)

    def undone(session):
        session.info.pop("test.outbox", None)

    listeners = [("after_flush", flushed), ("after_commit", done), ("after_rollback", undone)]
    with hub.client("manager") as api, hub.sandbox("google") as sb, listening(hub) as heard:
        integration = connect(api, "google")["integrationId"]
        hub.run(hub.services.tasks.drain())  # the initial sync
        api.put(f"/api/integrations/{integration}/settings", json={"notifications": {"syncSuccess": True}}).raise_for_status()
        for name, fn in listeners:
            orm_event.listen(Session, name, fn)
        try:
            for fault in (False, True):
                if fault:
                    sb.post("/_control/faults", json={"path": "/calendar/v3", "status": 400, "count": 100})
                sync_id = api.post(f"/api/integrations/{integration}/sync", json={}).json()["data"]["syncId"]
                deadline = time.monotonic() + 30
                while api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]["status"] \
                        in ("started", "running"):
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                hub.run(hub.services.tasks.drain())
        finally:
            for name, fn in listeners:
                orm_event.remove(Session, name, fn)
    assert ["syncCompleted", "syncSuccessNotification"] in committed
    assert ["syncFailed", "syncErrorNotification"] in committed
    assert not any(kinds in (["syncSuccessNotification"], ["syncErrorNotification"]) for kinds in committed)
    assert [h[2]["status"] for h in of(heard, "syncErrorNotification")] == ["failed"]
    assert len(of(heard, "syncSuccessNotification")) == 1
