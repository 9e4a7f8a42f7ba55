"""Message templates for notifying plugins (Slack, Teams, …): ``{placeholder}`` texts
checked when settings are saved and filled when a notification goes out, in the
organisation's time zone and language.

One set of placeholders for every plugin, so that a template written for Slack means
the same in Teams. Values are formatted with Babel (dates, times, durations, numbers in
the organisation's locale) and escaped by the caller's ``escape`` — each chat has its
own markup to protect.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Callable, Mapping
from zoneinfo import ZoneInfo

import msgspec

from .errors import SettingsError

PLACEHOLDERS: frozenset[str] = frozenset({
    "eventName", "eventDate", "eventTime", "timeUntil", "location", "organizer", "attendeeCount",
    "attendanceRate", "presentCount", "absentCount", "threshold", "eventType", "organizationName", "period",
    "syncStatus", "provider", "errorMessage",
})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# What check counts as blank: the spaces a JSON Schema pattern can name the same way
# as Python (ECMA-262's \s is not Python's).
_SPACES, _SPACES_CLASS = " \t\r\n", r" \t\r\n"
MAX_LENGTH = 4000


def pattern(known: frozenset[str] = PLACEHOLDERS) -> str:
    """The regular expression of the templates :func:`check` accepts (but their length),
    the same in Python and in JSON Schema: text without braces and ``{known}``
    placeholders, with something besides spaces."""
    name = "|".join(sorted(known))
    return rf"^[{_SPACES_CLASS}]*(?:[^{{}}{_SPACES_CLASS}]|\{{(?:{name})\}})(?:[^{{}}]|\{{(?:{name})\}})*$"


# A template field of a settings type. Its pattern is declared for the OpenAPI and
# enforced by :func:`check` (in the type's ``__post_init__``), whose errors say what is
# wrong — an unknown placeholder by name — where a failed regex could not.
Template = Annotated[str, msgspec.Meta(max_length=MAX_LENGTH, extra_json_schema={"pattern": pattern()})]


def check(field: str, template: str, *, max_length: int = MAX_LENGTH, known: frozenset[str] = PLACEHOLDERS) -> None:
    """Non-empty, not too long, braces paired, and only placeholders the notifier fills
    (what :func:`pattern` says). Raises :class:`SettingsError` naming ``field`` and the fault."""
    if not template.strip(_SPACES):
        raise SettingsError(field, "must not be empty")
    if len(template) > max_length:
        raise SettingsError(field, f"must be at most {max_length} characters")
    # Whatever is left once every {placeholder} is taken out must hold no brace at all.
    leftover = _PLACEHOLDER.sub("", template)
    if "{" in leftover or "}" in leftover:
        raise SettingsError(field, "has unbalanced braces: write placeholders as {name}, without nesting")
    for name in _PLACEHOLDER.findall(template):
        if name not in known:
            listed = ", ".join("{" + p + "}" for p in sorted(known))
            raise SettingsError(field, f"unknown placeholder {{{name}}}; known: {listed}")


def render(template: str, values: Mapping[str, str], escape: Callable[[str], str] = lambda s: s) -> str:
    """``template`` with each ``{name}`` replaced by ``escape(values[name])`` (an empty
    string when the notification carries no such value). The template's own text is
    the organisation's and is not escaped: it may hold the chat's markup on purpose."""
    return _PLACEHOLDER.sub(lambda m: escape(values.get(m.group(1), "")), template)


class Formatter:
    """Dates, durations and numbers as the organisation reads them."""

    def __init__(self, zone: str = "Europe/Paris", locale: str = "fr") -> None:
        self.zone = ZoneInfo(zone)
        self.locale = locale

    def date(self, at: datetime) -> str:
        """``at`` as a date in the organisation's time zone and language."""
        from babel.dates import format_date

        return format_date(at.astimezone(self.zone), "full", locale=self.locale)

    def time(self, at: datetime) -> str:
        """``at`` as a time of day in the organisation's time zone and language."""
        from babel.dates import format_time

        return format_time(at.astimezone(self.zone), "short", locale=self.locale)

    def duration(self, delta: timedelta) -> str:
        """``delta`` in words in the organisation's language (``dans 30 minutes``)."""
        from babel.dates import format_timedelta

        # "45 minutes", "1 heure", "2 jours": the largest whole unit, as people say it.
        return format_timedelta(max(delta, timedelta(0)), threshold=1, locale=self.locale)

    def number(self, value: float) -> str:
        """``value`` with the organisation's decimal conventions."""
        from babel.numbers import format_decimal

        return format_decimal(round(value, 1), format="#,##0.#", locale=self.locale)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def values_for(data: Mapping[str, Any], fmt: Formatter, now: datetime | None = None) -> dict[str, str]:
    """The placeholders' values for a notification's ``data`` (an event's ``title``,
    ``start``, ``location``, ``organizer``, ``attendees``; an alert's
    ``attendanceRate`` in percent; a report's ``period``…): what is absent stays absent.

    Relative times (``{timeUntil}``) count from ``now``, else from the data's ``asOf`` —
    the moment the job that built the notification acts for (``axhub jobs run … --at``),
    which is not the wall clock when a job runs late or is replayed — else from now."""
    out: dict[str, str] = {}
    now = now or _instant(data.get("asOf")) or datetime.now(timezone.utc)
    if data.get("title"):
        out["eventName"] = str(data["title"])
    start = _instant(data.get("start"))
    if start is not None:
        out["eventDate"] = fmt.date(start)
        out["eventTime"] = fmt.time(start)
        out["timeUntil"] = fmt.duration(start - now)
    if data.get("location"):
        out["location"] = str(data["location"])
    organizer = data.get("organizer")
    if isinstance(organizer, Mapping):
        out["organizer"] = str(organizer.get("name") or organizer.get("email") or "")
    elif organizer:
        out["organizer"] = str(organizer)
    attendees = data.get("attendees")
    count = len(attendees) if isinstance(attendees, list) else attendees if isinstance(attendees, int) \
        else data.get("attendeeCount")
    if count is not None:
        out["attendeeCount"] = str(count)
    present = data.get("presentCount", data.get("present"))
    if isinstance(present, int):
        out["presentCount"] = str(present)
        if isinstance(count, int):
            out["absentCount"] = str(max(0, count - present))
    # An alert's rate, or a report's average: percentages, in the organisation's notation.
    rate = data.get("attendanceRate", data.get("averageAttendanceRate"))
    for name, value in (("attendanceRate", rate), ("threshold", data.get("threshold"))):
        if isinstance(value, (int, float)):
            out[name] = fmt.number(float(value))
    period = data.get("period")
    if isinstance(period, dict):  # a weekly report's {start, end, week}
        first, last = _instant(period.get("start")), _instant(period.get("end"))
        out["period"] = f"{fmt.date(first)} – {fmt.date(last - timedelta(days=1))}" if first and last else str(period.get("week"))
    elif period is not None:
        out["period"] = str(period)
    # What went wrong: a sync's ``message``, or a failed delivery's ``error``
    # (``integrationError`` from the delivery worker).
    for key in ("message", "error"):
        if data.get(key) and "errorMessage" not in data and "errorMessage" not in out:
            out["errorMessage"] = str(data[key])
    for key in ("absentCount", "eventType", "organizationName", "provider", "errorMessage"):
        if data.get(key) is not None:
            out[key] = str(data[key])
    if data.get("type") and "eventType" not in out:
        out["eventType"] = str(data["type"])
    if data.get("status") and data.get("syncId"):
        out["syncStatus"] = str(data["status"])
    return out
