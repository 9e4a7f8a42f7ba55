"""The notices about events: ``eventReminder`` before each event starts, at the
organisation's reminder times, and ``attendanceAlert`` after an event whose attendance
fell under the organisation's threshold. Each is sent once (``runtime.once``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..db import Attendance, Event, Integration
from ..events.service import attendance_summary
from ..organizations.service import settings_for
from ..runtime.once import send_once

if TYPE_CHECKING:
    from ..runtime.services import Services

# A reminder whose moment passed while no process ran (a restart) is still sent this
# long after; later, it would only be noise.
REMINDER_LOOKBACK = timedelta(minutes=10)
# Attendance alerts look at events that ended within this window.
ALERT_LOOKBACK = timedelta(hours=24)

def human_minutes(minutes: float) -> str:
    minutes = max(0, round(minutes))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest:02d}" if rest else f"{hours} hour{'s' if hours != 1 else ''}"
    days = round(minutes / 1440)
    return f"{days} day{'s' if days != 1 else ''}"


async def organisations(svc: "Services") -> dict[str, list[Integration]]:
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
    orgs = await organisations(svc)
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
                    "timeUntil": human_minutes((event.start_at - at).total_seconds() / 60),
                    # The moment the job acts for: templates count {timeUntil} from it.
                    "asOf": at.isoformat()}
            sent += await send_once(svc, "eventReminder", key, event.org_id, data)
    return sent


async def attendance_alerts(svc: "Services", at: datetime) -> int:
    """``attendanceAlert`` for each event that ended (within ALERT_LOOKBACK), has
    attendance recorded, and whose attendance rate is under its organisation's threshold
    (``attendanceAlertThreshold`` of ``/api/organization/settings``, else the hub's
    ``AXHUB_ATTENDANCE_ALERT_THRESHOLD``)."""
    orgs = await organisations(svc)
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
        summary = attendance_summary(event, records[event.id])
        rate, threshold = summary.attendance_rate, settings[event.org_id].attendance_alert_threshold
        if rate is None or rate >= threshold:
            continue
        data = {"eventId": event.id, "eventName": event.title, "title": event.title, "type": event.type,
                "start": event.start_at.isoformat(), "end": event.end_at.isoformat(),
                "attendanceRate": round(rate * 100, 1), "threshold": round(threshold * 100, 1),
                "present": summary.present, "attendees": summary.attendees}
        sent += await send_once(svc, "attendanceAlert", event.id, event.org_id, data)
    return sent
