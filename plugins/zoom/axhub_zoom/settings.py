"""Zoom settings (spec: "Zoom — Configuration des réunions").

Defaults are Zoom's own defaults for a new meeting (``MeetingSettings`` in the Zoom API),
so that an organisation that sets nothing gets the meetings Zoom would have made.
"""

from __future__ import annotations

import zoneinfo
from typing import Literal

import msgspec

from axhub import Settings, SettingsError, SyncSettings

# The spec's names for Zoom's meeting ``type``. An instant meeting (type 1) has no start
# time, so it cannot stand for an Attendance-X event and is not offered.
MEETING_TYPES: dict[str, int] = {
    "scheduled": 2,
    "recurring": 8,  # recurring with a fixed time: what a recurring event is
    "recurring_no_fixed_time": 3,
}
MeetingType = Literal["scheduled", "recurring", "recurring_no_fixed_time"]

# Zoom accepts meeting durations in minutes; a day is the longest the hub will ask for.
MAX_DURATION = 1440


class RecordingSettings(Settings):
    auto_recording: Literal["local", "cloud", "none"] = "none"
    # Only authenticated users may view the cloud recordings.
    recording_authentication: bool = False


class MeetingDefaults(Settings):
    type: MeetingType = "scheduled"
    # None: the Attendance-X event's own length.
    duration: int | None = None
    # None: the event's time zone (else the Zoom user's).
    timezone: str | None = None
    # Zoom generates a passcode; it has required one by default since 2020.
    password: bool = True
    waiting_room: bool = False
    join_before_host: bool = False
    mute_upon_entry: bool = False
    recording_settings: RecordingSettings = msgspec.field(default_factory=RecordingSettings)

    def __post_init__(self) -> None:
        if self.duration is not None and not 1 <= self.duration <= MAX_DURATION:
            raise SettingsError("meetingDefaults.duration", f"must be between 1 and {MAX_DURATION} minutes")
        if self.timezone is not None and not _is_timezone(self.timezone):
            raise SettingsError("meetingDefaults.timezone",
                                f"{self.timezone!r} is not an IANA time zone such as \"Europe/Paris\"")
        if self.waiting_room and self.join_before_host:
            # Zoom switches join-before-host off when the waiting room is on; refusing the
            # pair is clearer than a setting that silently does nothing.
            raise SettingsError("meetingDefaults.joinBeforeHost",
                                "cannot be on with waitingRoom: Zoom disables it when the waiting room is enabled")


class AttendanceTracking(Settings):
    enabled: bool = True
    # Write Zoom's participant reports back as Attendance-X attendance.
    sync_attendance: bool = True
    # Minutes a participant must stay to count as present.
    minimum_duration: int = 0

    def __post_init__(self) -> None:
        if self.minimum_duration < 0:
            raise SettingsError("attendanceTracking.minimumDuration", "must be zero or more minutes")


class ZoomSettings(SyncSettings):
    # From SyncSettings: ``autoSync`` (default on) and ``syncInterval`` (seconds, default
    # 300) let the hub's scheduler run the integration's sync on its own — which is what
    # pulls attendance once meetings end and asks again while Zoom's report is not
    # ready — and ``autoSync`` also lets event changes start a sync soon after (see
    # ``notify``). Meetings only ever follow events: the one direction there is.
    sync_direction: Literal["attendance_to_external"] = "attendance_to_external"
    # Off by default: each meeting created counts against Zoom's daily per-user limit
    # of meeting create/update requests, so the organisation opts in.
    auto_create_meetings: bool = False
    # The Attendance-X event types that get a meeting; empty: every type.
    event_types: list[str] = []
    meeting_defaults: MeetingDefaults = msgspec.field(default_factory=MeetingDefaults)
    attendance_tracking: AttendanceTracking = msgspec.field(default_factory=AttendanceTracking)

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, kind in enumerate(self.event_types):
            if not kind.strip() or len(kind) > 64:
                raise SettingsError(f"eventTypes[{i}]", "must be an event type of 1 to 64 characters")


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
