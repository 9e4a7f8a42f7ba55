"""What ``/api/events`` does; scoped to the caller's organisation like everything else."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import msgspec
from sqlalchemy import func, select

from ..auth import Identity
from ..db import Attendance, Event, EventChange
from ..errors import ApiError, validation_error
from ..ids import new_id
from ..runtime.services import Services
from ..validation import check_timezone
from . import schemas as s

SOURCE = "attendance-x"


def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise validation_error(field, "must carry a UTC offset (e.g. 2024-03-15T10:00:00Z)")
    return value.astimezone(timezone.utc)


def _attendees(items: list[s.AttendeeIn]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for i, a in enumerate(items):
        email = a.email.strip(s.SPACES).lower()
        if "@" not in email or len(email) > 320 or email.startswith("@") or email.endswith("@"):
            raise validation_error(f"attendees[{i}].email", f"{a.email!r} is not an email address")
        if email in seen:
            raise validation_error(f"attendees[{i}].email", f"{email} is listed twice")
        seen.add(email)
        out.append({"email": email, "name": a.name, "role": a.role})
    return out


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    title = fields["title"].strip(s.SPACES)
    if not title or len(title) > 500:
        raise validation_error("title", "must be 1 to 500 characters")
    start, end = _aware(fields["start"], "start"), _aware(fields["end"], "end")
    if end <= start:
        raise validation_error("end", "must be after start")
    kind = fields["type"].strip(s.SPACES)
    if not kind or len(kind) > 64:
        raise validation_error("type", "must be 1 to 64 characters")
    organizer = fields.get("organizer")
    if organizer is not None and "@" not in organizer.email:
        raise validation_error("organizer.email", f"{organizer.email!r} is not an email address")
    return {
        "title": title,
        "start_at": start,
        "end_at": end,
        "timezone": check_timezone(fields["timezone"]),
        "description": fields.get("description"),
        "location": fields.get("location"),
        "type": kind,
        "private": fields["private"],
        "organizer": {"email": organizer.email.lower(), "name": organizer.name} if organizer else None,
        "attendees": _attendees(fields.get("attendees") or []),
    }


def view(row: Event) -> s.EventOut:
    return s.EventOut(
        id=row.id,
        title=row.title,
        start=row.start_at,
        end=row.end_at,
        timezone=row.timezone,
        description=row.description,
        location=row.location,
        type=row.type,
        private=row.private,
        organizer=msgspec.convert(row.organizer, s.Person) if row.organizer else None,
        attendees=[msgspec.convert(a, s.AttendeeIn) for a in row.attendees],
        meeting=row.meeting,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def signal_data(row: Event) -> dict[str, Any]:
    return msgspec.to_builtins(view(row))


async def get_owned(svc: Services, identity: Identity, event_id: str, session=None) -> Event:
    query = select(Event).where(Event.id == event_id, Event.org_id == identity.org_id, Event.deleted_at.is_(None))
    if session is not None:
        row = await session.scalar(query)
    else:
        async with svc.db.autocommit() as own:
            row = await own.scalar(query)
    if row is None:
        raise ApiError("NOT_FOUND", f"event {event_id!r} not found", field="id")
    return row


async def create(svc: Services, identity: Identity, body: s.EventIn) -> s.EventOut:
    fields = _validated({f: getattr(body, f) for f in body.__struct_fields__})
    at = now()
    row = Event(id=new_id("evt"), org_id=identity.org_id, meeting=None, source=SOURCE, version=1,
                created_at=at, updated_at=at, deleted_at=None, **fields)
    async with svc.db.session() as session, session.begin():
        session.add(row)
        session.add(EventChange(org_id=row.org_id, event_id=row.id, at=at))
        svc.signals.emit(session, "eventCreated", identity.org_id, signal_data(row))
    return view(row)


async def update_event(svc: Services, identity: Identity, event_id: str, patch: s.EventPatch) -> s.EventOut:
    async with svc.db.session() as session, session.begin():
        row = await get_owned(svc, identity, event_id, session)
        current = view(row)
        fields = {f: getattr(current, f) for f in s.EventIn.__struct_fields__}
        fields["organizer"] = current.organizer
        for name in patch.__struct_fields__:
            value = getattr(patch, name)
            if value is not msgspec.UNSET:
                fields[name] = value
        if fields["title"] is None:
            raise validation_error("title", "must not be null")
        values = _validated(fields)
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(row, k, v)
            row.version += 1
            row.updated_at = now()
            session.add(EventChange(org_id=row.org_id, event_id=row.id, at=row.updated_at))
            svc.signals.emit(session, "eventUpdated", identity.org_id,
                             {**signal_data(row), "changed": sorted(_wire(k) for k in changed)})
    return view(row)


def _wire(column: str) -> str:
    return {"start_at": "start", "end_at": "end"}.get(column, column)


async def delete_event(svc: Services, identity: Identity, event_id: str) -> s.Deleted:
    async with svc.db.session() as session, session.begin():
        row = await get_owned(svc, identity, event_id, session)
        row.deleted_at = row.updated_at = now()
        row.version += 1
        session.add(EventChange(org_id=row.org_id, event_id=row.id, at=row.updated_at))
        svc.signals.emit(session, "eventDeleted", identity.org_id,
                         {"id": row.id, "title": row.title, "type": row.type, "start": row.start_at.isoformat()})
    return s.Deleted(id=row.id, deleted=True, deleted_at=row.deleted_at)


async def list_events(
    svc: Services, identity: Identity, start: str | None, end: str | None, type_: str | None, page: int, limit: int
) -> tuple[list[s.EventOut], s.Meta]:
    if page < 1:
        raise validation_error("page", "must be 1 or more")
    if not 1 <= limit <= 500:
        raise validation_error("limit", "must be between 1 and 500")
    query = select(Event).where(Event.org_id == identity.org_id, Event.deleted_at.is_(None))
    for name, raw in (("start", start), ("end", end)):
        if raw is None:
            continue
        try:
            bound = _aware(datetime.fromisoformat(raw.replace("Z", "+00:00")), name)
        except ValueError:
            raise validation_error(name, f"{raw!r} is not an ISO 8601 date-time") from None
        # Events overlapping [start, end).
        query = query.where(Event.end_at > bound) if name == "start" else query.where(Event.start_at < bound)
    if type_ is not None:
        query = query.where(Event.type == type_)
    async with svc.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (await session.scalars(query.order_by(Event.start_at, Event.id).offset((page - 1) * limit).limit(limit))).all()
    meta = s.Meta(page=page, limit=limit, total=total or 0, total_pages=math.ceil((total or 0) / limit))
    return [view(r) for r in rows], meta


async def attendance(svc: Services, identity: Identity, event_id: str) -> s.AttendanceSummary:
    row = await get_owned(svc, identity, event_id)
    async with svc.db.session() as session:
        records = {a.email: a for a in (await session.scalars(select(Attendance).where(Attendance.event_id == row.id))).all()}
    return attendance_summary(row, records)


def attendance_summary(row: Event, records: dict[str, Attendance]) -> s.AttendanceSummary:
    out = []
    invited = {a["email"]: a for a in row.attendees}
    for email in [*invited, *(e for e in records if e not in invited)]:
        a, r = invited.get(email), records.get(email)
        out.append(s.AttendanceOut(
            email=email,
            name=(r.name if r and r.name else None) or (a or {}).get("name"),
            role=(a or {}).get("role"),
            status=r.status if r else "unknown",  # type: ignore[arg-type]
            source=r.source if r else None,
            duration_minutes=r.duration_minutes if r else None,
            updated_at=r.updated_at if r else None,
        ))
    present = sum(1 for o in out if o.status in ("present", "late"))
    return s.AttendanceSummary(
        event_id=row.id, attendees=len(invited), present=present,
        attendance_rate=round(present / len(invited), 4) if invited else None, records=out,
    )


async def record_attendance(svc: Services, identity: Identity, event_id: str, body: s.AttendanceUpdate) -> s.AttendanceSummary:
    """Upsert attendance records; ``attendanceUpdated`` is raised only when something changed."""
    for i, rec in enumerate(body.records):
        if "@" not in rec.email:
            raise validation_error(f"records[{i}].email", f"{rec.email!r} is not an email address")
        if rec.duration_minutes is not None and rec.duration_minutes < 0:
            raise validation_error(f"records[{i}].durationMinutes", "must be zero or more")
    summary, _ = await _upsert(svc, identity.org_id, event_id, [
        (rec.email.strip(s.SPACES).lower(), dict(status=rec.status, source=rec.source, duration_minutes=rec.duration_minutes,
                                         name=rec.name)) for rec in body.records
    ])
    return summary


async def record_from_provider(svc: Services, org_id: str, event_id: str, records, source: str) -> bool:
    """Attendance a provider measured (a Zoom participant report…), for the sync
    engine's follow-up step: the same upsert and ``attendanceUpdated`` as
    ``PUT /api/events/{id}/attendance``, nothing written or raised when nothing changed.
    Records someone set by hand, or another source, are kept. True when something changed."""
    _, changed = await _upsert(svc, org_id, event_id, [
        (r.email.strip(s.SPACES).lower(), dict(status=r.status, source=source, duration_minutes=r.duration_minutes,
                                               name=r.name[:200] if r.name else r.name))  # the column's width
        for r in records
    ], keep=lambda current: current.source not in (None, source))
    return changed > 0


async def _upsert(svc: Services, org_id: str, event_id: str, records: list[tuple[str, dict[str, Any]]], *,
                  keep=None) -> tuple[s.AttendanceSummary, int]:
    """Upsert ``(email, values)`` records; ``keep(current)`` True leaves a record alone.
    Returns the summary and how many records changed."""
    at = now()
    async with svc.db.session() as session, session.begin():
        row = await session.scalar(select(Event).where(Event.id == event_id, Event.org_id == org_id,
                                                       Event.deleted_at.is_(None)))
        if row is None:
            raise ApiError("NOT_FOUND", f"event {event_id!r} not found", field="id")
        existing = {a.email: a for a in (await session.scalars(select(Attendance).where(Attendance.event_id == row.id))).all()}
        before = attendance_summary(row, existing).attendance_rate
        count = 0
        for email, values in records:
            current = existing.get(email)
            if current is None:
                current = Attendance(event_id=row.id, email=email, org_id=row.org_id, updated_at=at, **values)
                session.add(current)
                existing[email] = current
                count += 1
            elif keep is not None and keep(current):
                continue
            elif any(getattr(current, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(current, k, v)
                current.updated_at = at
                count += 1
        summary = attendance_summary(row, existing)
        if count:  # in the change's own transaction: the signal is as durable as the change
            svc.signals.emit(session, "attendanceUpdated", org_id, {
                "eventId": row.id, "title": row.title, "type": row.type, "attendanceRate": summary.attendance_rate,
                "previousAttendanceRate": before, "present": summary.present, "attendees": summary.attendees,
            })
    return summary, count
