"""Attendance from a Zoom participant report.

Zoom's report has one record per join/leave *session*: someone whose connection drops
and who rejoins appears several times, and two devices of the same person overlap. A
person's time in the meeting is the length of the union of their sessions, so that
overlaps are not counted twice; time in the waiting room (``status:
in_waiting_room``) does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import msgspec

from axhub import AttendanceRecord, Attendee


def merged_seconds(sessions: Sequence[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of ``(join, leave)`` intervals, in any order."""
    if len(sessions) == 1:  # most people join once
        start, end = sessions[0]
        return max(0.0, (end - start).total_seconds())
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(sessions):
        if end < start:
            end = start
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


class Participant(msgspec.Struct):
    """One session of Zoom's participant report (the fields used)."""

    name: str | None = None
    user_email: str | None = None
    join_time: datetime | None = None
    leave_time: datetime | None = None
    status: str | None = None


class ReportPage(msgspec.Struct):
    participants: list[Participant] = []
    next_page_token: str | None = None


_PAGE = msgspec.json.Decoder(ReportPage)


def decode_page(content: bytes) -> ReportPage:
    """A report page, times parsed while decoding; a page with an odd time (Zoom has
    sent empty strings) is read field by field instead, that record's time left out."""
    try:
        return _PAGE.decode(content)
    except msgspec.ValidationError:
        raw = msgspec.json.decode(content)
        return ReportPage(participants=[Participant(
            name=p.get("name"), user_email=p.get("user_email"), status=p.get("status"),
            join_time=_time(p.get("join_time")), leave_time=_time(p.get("leave_time")),
        ) for p in raw.get("participants") or []], next_page_token=raw.get("next_page_token"))


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


@dataclass
class Result:
    records: list[AttendanceRecord]
    unmatched: list[dict[str, Any]]  # participants who are not attendees of the event
    participants: int


def people(participants: Iterable[Participant]) -> tuple[dict[str, list], dict[str, str | None], list[str]]:
    """Sessions grouped by email (lower case), the name each email came with, and the
    names of participants without an email."""
    sessions: dict[str, list[tuple[datetime, datetime]]] = {}
    names: dict[str, str | None] = {}
    anonymous: list[str] = []
    for p in participants:
        if p.status == "in_waiting_room":
            continue
        email = p.user_email
        if email:
            email = email.strip().lower()
        if not email:
            name = p.name or "(no name)"
            if name not in anonymous:
                anonymous.append(name)
            continue
        mine = sessions.get(email)
        if mine is None:
            mine = sessions[email] = []
            names[email] = p.name or None
        if p.join_time is not None and p.leave_time is not None:
            mine.append((p.join_time, p.leave_time))
    return sessions, names, anonymous


def compute(participants: Sequence[Participant], attendees: Sequence[Attendee], minimum_minutes: int) -> Result:
    """Each attendee present when their time in the meeting reaches ``minimum_minutes``
    (any time at all when it is 0), else absent; participants who are not attendees
    come back as ``unmatched``."""
    sessions, names, anonymous = people(participants)
    minimum = minimum_minutes * 60
    records = []
    invited = set()
    for attendee in attendees:
        email = attendee.email.lower()
        invited.add(email)
        mine = sessions.get(email)
        seconds = merged_seconds(mine) if mine else 0.0
        records.append(AttendanceRecord(
            email=email,
            status="present" if mine and seconds >= minimum else "absent",
            duration_minutes=int(seconds // 60),
            name=attendee.name or names.get(email),
        ))
    unmatched: list[dict[str, Any]] = [
        {"email": email, "name": names[email], "minutes": int(merged_seconds(mine) // 60) if mine else 0}
        for email, mine in sessions.items() if email not in invited
    ]
    unmatched += [{"email": None, "name": name} for name in anonymous]
    return Result(records=records, unmatched=unmatched, participants=len(sessions) + len(anonymous))
