"""What the scheduler runs: automatic syncs, event reminders, attendance alerts, the
weekly report, token refresh, retries of failed deliveries, upkeep.

Each job is a plain coroutine taking the hub's Services and the moment it acts for
(``at``), so that tests and operators run it for any moment through :func:`run_job`
(``axhub jobs run NAME --at …``); APScheduler calls the small wrappers at the bottom,
which find the Services of the hub whose scheduler fired them. Every notification goes
through :mod:`.dedupe`, so it is sent once however many times a job runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, time as dtime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db import Attendance, Credential, Event, Integration, ScheduledFire, SentNotification, SyncRun
from ..errors import ApiError, ProviderError
from ..metering import attribute
from . import dedupe
from .service import services_of_current_job

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..state import Services

log = logging.getLogger("axhub.scheduler")

# A reminder whose moment passed while no process ran (a restart) is still sent this
# long after; later, it would only be noise.
REMINDER_LOOKBACK = timedelta(minutes=10)
# Attendance alerts look at events that ended within this window.
ALERT_LOOKBACK = timedelta(hours=24)
# The weekly report goes out on Monday at this time of the organisation's day.
REPORT_AT = timedelta(hours=8)
# A report missed while no process ran goes out this late at most; later (or on the day
# someone turns weeklyReport on) last week's figures would come out of the blue.
REPORT_LOOKBACK = timedelta(days=1)
# Dedupe keys are kept this long: longer than any window above.
KEEP_KEYS = timedelta(days=35)


def now() -> datetime:
    return datetime.now(timezone.utc)


def human_minutes(minutes: float) -> str:
    minutes = max(0, round(minutes))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest:02d}" if rest else f"{hours} hour{'s' if hours != 1 else ''}"
    days = round(minutes / 1440)
    return f"{days} day{'s' if days != 1 else ''}"


# -- automatic sync ----------------------------------------------------------------------

async def claim_fire(svc: "Services", integration_id: str, fire_at: datetime, by: str) -> bool:
    """True for the first caller to start the integration's sync for ``fire_at`` (or a
    later time); False for a second fire of the same time, whoever fires it."""
    async with svc.db.session() as s, s.begin():
        moved = await s.execute(update(ScheduledFire)
                                .where(ScheduledFire.integration_id == integration_id, ScheduledFire.fire_at < fire_at)
                                .values(fire_at=fire_at, claimed_by=by[:200]))
    if moved.rowcount == 1:
        return True
    try:
        async with svc.db.session() as s, s.begin():
            await s.execute(insert(ScheduledFire).values(integration_id=integration_id, fire_at=fire_at, claimed_by=by[:200]))
    except IntegrityError:
        return False
    return True


async def sync_due(svc: "Services", integration_id: str, fire_at: datetime) -> str:
    """Run the integration's automatic sync due at ``fire_at`` (recorded as ``automatic``,
    triggered by ``scheduled_sync``), unless it is not due any more, this fire time was
    already handled, or a run is going. Returns what happened."""
    from ..sync.runs import SyncIn, start

    sched = svc.scheduler
    async with svc.db.session() as s:
        row = await s.get(Integration, integration_id)
    if row is None or sched.interval_of(row) is None:
        await sched.forget(integration_id)  # an orphan: its integration went away
        sched.counters["skipped"] += 1
        return "skipped"
    if row.status == "error" and row.last_error == "INVALID_CREDENTIALS":
        sched.counters["skipped"] += 1  # nothing to do until someone reconnects it
        return "skipped"
    if not await claim_fire(svc, integration_id, fire_at, sched.identity):
        log.debug("scheduled sync of %s due %s already handled: second fire ignored", integration_id, fire_at)
        sched.counters["duplicate"] += 1
        return "duplicate"
    try:
        started = await start(svc, row, SyncIn(), type_="automatic", triggered_by="scheduled_sync", wait=True)
    except ApiError as exc:
        if exc.code != "CONFLICT":
            raise
        log.debug("scheduled sync of %s due %s: a run is going (%s)", integration_id, fire_at, exc.message)
        sched.counters["busy"] += 1
        return "busy"
    sched.counters["started"] += 1
    log.info("scheduled sync %s of %s (due %s) ran on %s", started["syncId"], integration_id,
             fire_at.isoformat(), sched.identity)
    return "started"


# -- notifications -----------------------------------------------------------------------

async def _orgs(svc: "Services") -> dict[str, list[Integration]]:
    """Organisations with live integrations: the ones a notification can reach."""
    async with svc.db.session() as s:
        rows = (await s.scalars(select(Integration).where(Integration.status != "disconnected"))).all()
    out: dict[str, list[Integration]] = {}
    for row in rows:
        out.setdefault(row.org_id, []).append(row)
    return out


def reminder_minutes(svc: "Services", integrations: list[Integration]) -> set[int]:
    """The organisation's reminder times: every ``notifications.reminderMinutes`` its
    integrations' settings turn on (Google's reminders), else the hub's default."""
    minutes: set[int] = set()
    for row in integrations:
        prefs = row.settings.get("notifications")
        if isinstance(prefs, dict) and prefs.get("reminders") and isinstance(prefs.get("reminderMinutes"), list):
            minutes.update(m for m in prefs["reminderMinutes"] if isinstance(m, int) and m >= 0)
    return minutes or set(svc.config.reminder_minutes)


async def reminders(svc: "Services", at: datetime) -> int:
    """``eventReminder`` for each event starting in one of the organisation's reminder
    times, when that moment has come (or came less than REMINDER_LOOKBACK ago). A
    reminder time of 0 is an "it starts now" notice, as Google's 0-minute reminder."""
    orgs = await _orgs(svc)
    if not orgs:
        return 0
    minutes_of = {org_id: reminder_minutes(svc, integrations) for org_id, integrations in orgs.items()}
    horizon = at + timedelta(minutes=max(max(m) for m in minutes_of.values()))
    async with svc.db.session() as s:  # one query for every organisation
        # From REMINDER_LOOKBACK ago: a 0-minute reminder is due at the start itself.
        events = (await s.scalars(select(Event).where(Event.deleted_at.is_(None),
                                                      Event.start_at > at - REMINDER_LOOKBACK,
                                                      Event.start_at <= horizon))).all()
    sent = 0
    for event in events:
        for m in sorted(minutes_of.get(event.org_id, ())):
            due = event.start_at - timedelta(minutes=m)
            if not at - REMINDER_LOOKBACK < due <= at:
                continue
            if m and event.start_at <= at:
                continue  # sent late, "starts in 15 minutes" would be said of an event under way
            key = f"{event.id}:{m}:{event.start_at.isoformat()}"
            data = {"eventId": event.id, "eventName": event.title, "title": event.title, "type": event.type,
                    "start": event.start_at.isoformat(), "end": event.end_at.isoformat(), "timezone": event.timezone,
                    "location": event.location, "minutesBefore": m,
                    # Who to mention, for the chats that do (Slack's userMentions).
                    "organizer": event.organizer, "attendees": event.attendees,
                    "timeUntil": human_minutes((event.start_at - at).total_seconds() / 60)}
            sent += await dedupe.send_once(svc, "eventReminder", key, event.org_id, data)
    return sent


async def attendance_alerts(svc: "Services", at: datetime) -> int:
    """``attendanceAlert`` for each event that ended (within ALERT_LOOKBACK), has
    attendance recorded, and whose attendance rate is under its organisation's threshold
    (``attendanceAlertThreshold`` of ``/api/organization/settings``, else the hub's
    ``AXHUB_ATTENDANCE_ALERT_THRESHOLD``)."""
    from ..events.service import _summary
    from ..organizations.service import settings_for

    orgs = await _orgs(svc)
    async with svc.db.session() as s:  # one query for every organisation
        events = [e for e in (await s.scalars(select(Event).where(
            Event.deleted_at.is_(None), Event.end_at <= at, Event.end_at > at - ALERT_LOOKBACK))).all() if e.org_id in orgs]
        records: dict[str, dict[str, Attendance]] = {}
        for chunk in range(0, len(events), 1000):
            ids = [e.id for e in events[chunk:chunk + 1000]]
            for a in (await s.scalars(select(Attendance).where(Attendance.event_id.in_(ids)))).all():
                records.setdefault(a.event_id, {})[a.email] = a
    settings = await settings_for(svc, sorted({e.org_id for e in events if e.id in records}))
    sent = 0
    for event in events:
        if event.id not in records:
            continue  # nobody recorded attendance: nothing to judge
        summary = _summary(event, records[event.id])
        rate, threshold = summary.attendance_rate, settings[event.org_id].attendance_alert_threshold
        if rate is None or rate >= threshold:
            continue
        data = {"eventId": event.id, "eventName": event.title, "title": event.title, "type": event.type,
                "start": event.start_at.isoformat(), "end": event.end_at.isoformat(),
                "attendanceRate": round(rate * 100, 1), "threshold": round(threshold * 100, 1),
                "present": summary.present, "attendees": summary.attendees}
        sent += await dedupe.send_once(svc, "attendanceAlert", event.id, event.org_id, data)
    return sent


def report_week(at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    """The last full week in ``zone`` at ``at`` (local Monday midnight to Monday
    midnight, whatever the daylight-saving shifts inside it), and when its report is
    due: the Monday 08:00 that ends it, local time."""
    monday = at.astimezone(zone).date()
    monday -= timedelta(days=monday.weekday())
    end = datetime.combine(monday, dtime(0), tzinfo=zone)
    return datetime.combine(monday - timedelta(days=7), dtime(0), tzinfo=zone), end, end + REPORT_AT


async def weekly_report(svc: "Services", at: datetime) -> int:
    """``weeklyReport`` on the last full ISO week of each organisation with an
    integration whose ``notifications.weeklyReport`` is on, in the organisation's time
    zone, once its Monday 08:00 has come there (or up to REPORT_LOOKBACK later, had no
    process run then)."""
    from ..events.service import _summary
    from ..organizations.service import settings_for

    orgs = {org_id: rows for org_id, rows in (await _orgs(svc)).items()
            if any(r.notifications.get("weeklyReport") for r in rows)}
    zones = {org_id: ZoneInfo(o.timezone) for org_id, o in (await settings_for(svc, list(orgs))).items()}
    due: dict[str, tuple[datetime, datetime, str]] = {}
    for org_id in orgs:
        start, end, send_at = report_week(at, zones[org_id])
        if send_at <= at < send_at + REPORT_LOOKBACK:
            year, week, _ = start.isocalendar()
            due[org_id] = (start, end, f"{year}-W{week:02d}")
    if not due:
        return 0
    # The job runs every quarter of an hour: reports already sent are not worked out again.
    keys = {f"{org_id}:{week}": org_id for org_id, (_, _, week) in due.items()}
    async with svc.db.session() as s:
        for chunk in range(0, len(keys), 1000):
            batch = list(keys)[chunk:chunk + 1000]
            for key in (await s.scalars(select(SentNotification.key).where(
                    SentNotification.kind == "weeklyReport", SentNotification.key.in_(batch)))).all():
                due.pop(keys[key], None)
    sent = 0
    for org_id, (start, end, week) in due.items():
        integrations = orgs[org_id]
        async with svc.db.session() as s:
            runs = (await s.execute(
                select(SyncRun.integration_id, SyncRun.status, func.count(), func.sum(SyncRun.error_count))
                .where(SyncRun.org_id == org_id, SyncRun.dry_run.is_(False), SyncRun.started_at >= start,
                       SyncRun.started_at < end)
                .group_by(SyncRun.integration_id, SyncRun.status))).all()
            events = (await s.scalars(select(Event).where(Event.org_id == org_id, Event.deleted_at.is_(None),
                                                          Event.start_at >= start, Event.start_at < end))).all()
            records: dict[str, dict[str, Attendance]] = {}
            if events:
                for a in (await s.scalars(select(Attendance).where(Attendance.event_id.in_([e.id for e in events])))).all():
                    records.setdefault(a.event_id, {})[a.email] = a
        per: dict[str, dict[str, int]] = {}
        for integration_id, status, count, errors in runs:
            entry = per.setdefault(integration_id, {"syncs": 0, "completed": 0, "partial": 0, "failed": 0, "errors": 0})
            entry["syncs"] += count
            if status in ("completed", "partial", "failed"):
                entry[status] += count
            entry["errors"] += int(errors or 0)
        rates = [r for e in events if e.id in records and (r := _summary(e, records[e.id]).attendance_rate) is not None]
        data = {
            "period": {"start": start.isoformat(), "end": end.isoformat(), "week": week,
                       "timezone": zones[org_id].key},
            "events": len(events),
            "eventsWithAttendance": len(rates),
            "averageAttendanceRate": round(100 * sum(rates) / len(rates), 1) if rates else None,
            "integrations": [{"integrationId": r.id, "provider": r.provider, "name": r.name, "status": r.status,
                              **per.get(r.id, {"syncs": 0, "completed": 0, "partial": 0, "failed": 0, "errors": 0})}
                             for r in integrations],
        }
        sent += await dedupe.send_once(svc, "weeklyReport", f"{org_id}:{week}", org_id, data)
    return sent


async def after_sync(svc: "Services", session: "AsyncSession", row: Integration, run_id: str, status: str,
                     stats: dict[str, Any], message: str | None) -> bool:
    """A finished run told to people as the integration's ``notifications`` ask:
    ``syncErrorNotification`` (``syncErrors``, on by default) for a failed or partial
    run, ``syncSuccessNotification`` (``syncSuccess``) for a clean one. Called in the
    transaction of the run's final record (``session``): the notice is in the outbox
    exactly when the run is seen finished, so a crash after that commit loses nothing."""
    # As set now, not when the run started: a notice turned off during a long run stays off.
    current = await session.scalar(select(Integration.notifications).where(Integration.id == row.id))
    prefs = (current if current is not None else row.notifications) or {}
    if status in ("failed", "partial"):
        if not prefs.get("syncErrors", True):
            return False
        kind = "syncErrorNotification"
    else:
        if not prefs.get("syncSuccess", False):
            return False
        kind = "syncSuccessNotification"
    data = {"integrationId": row.id, "provider": row.provider, "name": row.name, "syncId": run_id, "status": status,
            "statistics": stats, "message": message}
    return await dedupe.send_once_in(svc, session, kind, run_id, row.org_id, data)


# -- upkeep ------------------------------------------------------------------------------

async def token_refresh(svc: "Services", at: datetime) -> int:
    """Refresh grants due for refresh (within ``AXHUB_REFRESH_MARGIN`` of expiry) even
    when nothing uses them: an idle integration would otherwise find its token long
    dead. Run every minute, so a grant is refreshed well before it expires; the vault
    refreshes each grant once however many processes ask."""
    due = at + timedelta(seconds=svc.config.refresh_margin)
    async with svc.db.session() as s:
        rows = (await s.scalars(select(Integration).join(Credential, Credential.integration_id == Integration.id)
                                .where(Integration.status == "connected", Credential.expires_at.is_not(None),
                                       Credential.expires_at <= due))).all()
    refreshed = 0
    for row in rows:
        if not svc.hub.implements(row.provider, "refresh"):
            continue
        try:
            await svc.vault.get(row.id, _refresher(svc, row))
            refreshed += 1
        except ProviderError as exc:
            log.warning("token refresh of %s failed: %s", row.id, exc.message)
    return refreshed


def _refresher(svc: "Services", row: Integration) -> Callable[[Any], Awaitable[Any]]:
    async def refresh(creds):
        # The token call counts in analytics for the organisation whose grant it renews,
        # as when a sync's own refresh makes it (integrations.service.connection).
        attribute(row.provider, row.org_id, row.id)
        return await svc.hub.call(row.provider, "refresh", credentials=creds)

    return refresh


async def delivery_retries(svc: "Services", at: datetime) -> int:
    """One round of the delivery worker, from the scheduler: retries fall due even in a
    process whose own worker loop is off (``AXHUB_DELIVERY_WORKER=0``, ``axhub worker``).
    Leases keep two processes from attempting the same message."""
    return await svc.worker.run_due(at)


async def upkeep(svc: "Services", at: datetime) -> int:
    return await dedupe.prune(svc, KEEP_KEYS, at)


# -- entry points ------------------------------------------------------------------------

JOBS: dict[str, Callable[["Services", datetime], Awaitable[int]]] = {
    "reminders": reminders,
    "attendance-alerts": attendance_alerts,
    "weekly-report": weekly_report,
    "token-refresh": token_refresh,
    "delivery-retries": delivery_retries,
    "upkeep": upkeep,
}


async def run_job(svc: "Services", name: str, at: datetime | None = None, *, integration_id: str | None = None) -> Any:
    """Run one job now, acting for the moment ``at`` (default: now). ``sync`` runs
    ``integration_id``'s automatic sync as due at ``at``."""
    at = at or now()
    if name == "sync":
        if not integration_id:
            raise ValueError("the sync job needs an integration id")
        return await sync_due(svc, integration_id, at)
    try:
        job = JOBS[name]
    except KeyError:
        raise ValueError(f"unknown job {name!r}; jobs: sync, {', '.join(JOBS)}") from None
    return await job(svc, at)


def _fired_at() -> datetime:
    from apscheduler import current_job

    job = current_job.get(None)
    return job.scheduled_fire_time if job is not None and job.scheduled_fire_time else now()


async def scheduled_sync(integration_id: str) -> str:
    return await sync_due(services_of_current_job(), integration_id, _fired_at())


# APScheduler finds these by reference ("axhub.scheduler.jobs:fire_reminders").
async def fire_reminders() -> int:
    return await reminders(services_of_current_job(), now())


async def fire_attendance_alerts() -> int:
    return await attendance_alerts(services_of_current_job(), now())


async def fire_weekly_report() -> int:
    return await weekly_report(services_of_current_job(), now())


async def fire_token_refresh() -> int:
    return await token_refresh(services_of_current_job(), now())


async def fire_delivery_retries() -> int:
    return await delivery_retries(services_of_current_job(), now())


async def fire_upkeep() -> int:
    return await upkeep(services_of_current_job(), now())


def _every(seconds: int):
    from apscheduler.triggers.interval import IntervalTrigger

    def make():
        # On a grid from the epoch: the same schedule whichever process writes it.
        from .grid import next_fire

        return IntervalTrigger(seconds=seconds, start_time=next_fire("", seconds, now()))

    return make


PERIODIC: dict[str, tuple[Callable[[], Awaitable[int]], Callable[[], Any]]] = {
    "reminders": (fire_reminders, _every(60)),
    "attendance-alerts": (fire_attendance_alerts, _every(300)),
    # Every quarter of an hour, not a Monday 08:00 cron: each organisation's Monday
    # 08:00 comes in its own time zone, and every zone's offset is whole quarters.
    "weekly-report": (fire_weekly_report, _every(900)),
    "token-refresh": (fire_token_refresh, _every(60)),
    "delivery-retries": (fire_delivery_retries, _every(60)),
    "upkeep": (fire_upkeep, _every(86400)),
}

__all__ = ["JOBS", "PERIODIC", "claim_fire", "run_job", "sync_due"]
