"""Zoom settings (spec: "Zoom — Configuration des réunions").

Defaults are Zoom's own defaults for a new meeting (``MeetingSettings`` in the Zoom API),
so that an organisation that sets nothing gets the meetings Zoom would have made.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from axhub import Settings, SettingsError, SyncSettings, TimeZone

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
Duration = Annotated[int, msgspec.Meta(ge=1, le=MAX_DURATION)]
# An Attendance-X event type: something besides spaces, at most 64 characters (the
# classes are spelled out so that the pattern means the same in Python and JSON Schema).
EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"[^ \t\r\n]")]


class RecordingSettings(Settings):
    auto_recording: Literal["local", "cloud", "none"] = "none"
    # Only authenticated users may view the cloud recordings.
    recording_authentication: bool = False


class MeetingDefaults(Settings):
    type: MeetingType = "scheduled"
    # None: the Attendance-X event's own length.
    duration: Duration | None = None
    # None: the event's time zone (else the Zoom user's).
    timezone: TimeZone | None = None
    # Zoom generates a passcode; it has required one by default since 2020.
    password: bool = True
    waiting_room: bool = False
    join_before_host: bool = False
    mute_upon_entry: bool = False
    recording_settings: RecordingSettings = msgspec.field(default_factory=RecordingSettings)

    def __post_init__(self) -> None:
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
    minimum_duration: Annotated[int, msgspec.Meta(ge=0)] = 0


# MeetingDefaults' rule across its fields, in JSON Schema for the OpenAPI (checked by its
# __post_init__): waitingRoom and joinBeforeHost are not both on.
_NOT_BOTH = {"anyOf": [{"properties": {"waitingRoom": {"const": False}}},
                       {"properties": {"joinBeforeHost": {"const": False}}}]}


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
    event_types: list[EventType] = []
    meeting_defaults: Annotated[MeetingDefaults, msgspec.Meta(extra_json_schema=_NOT_BOTH)] = \
        msgspec.field(default_factory=MeetingDefaults)
    attendance_tracking: AttendanceTracking = msgspec.field(default_factory=AttendanceTracking)
