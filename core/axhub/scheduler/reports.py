"""The ``weeklyReport``: last week's syncs, events and attendance of each organisation
that asks for it, sent on its own Monday at 08:00 in its own time zone, once."""

from __future__ import annotations

from datetime import datetime, time as dtime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..db import Attendance, Event, SentNotification, SyncRun
from ..events.service import attendance_summary
from ..organizations.service import settings_for
from ..runtime.once import send_once
from .reminders import organisations

if TYPE_CHECKING:
    from ..runtime.services import Services

# The weekly report goes out on Monday at this time of the organisation's day.
REPORT_AT = timedelta(hours=8)
# A report missed while no process ran goes out this late at most; later (or on the day
# someone turns weeklyReport on) last week's figures would come out of the blue.
REPORT_LOOKBACK = timedelta(days=1)

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
    orgs = {org_id: rows for org_id, rows in (await organisations(svc)).items()
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
        rates = [r for e in events if e.id in records and (r := attendance_summary(e, records[e.id]).attendance_rate) is not None]
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
        sent += await send_once(svc, "weeklyReport", f"{org_id}:{week}", org_id, data)
    return sent
