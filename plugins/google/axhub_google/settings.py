"""Google Calendar settings (spec: "Google Calendar — Configuration avancée")."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from axhub import Settings, SyncSettings

# Google's event palette has the ids "1" to "11" (colors.get, "event").
ColorId = Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]
# Calendar API: at most 5 override reminders, each 0..40320 minutes (4 weeks).
ReminderMinutes = Annotated[int, msgspec.Meta(ge=0, le=40320)]


class EventMapping(Settings):
    title_prefix: str = ""
    include_attendees: bool = True
    include_description: bool = True
    include_location: bool = True
    color_id: ColorId | None = None


class Filters(Settings):
    event_types: list[str] = []
    exclude_private: bool = False
    min_duration: Annotated[int, msgspec.Meta(ge=0)] = 0  # minutes


class Reminders(Settings):
    reminders: bool = False
    reminder_minutes: Annotated[list[ReminderMinutes], msgspec.Meta(max_length=5)] = []


class GoogleSettings(SyncSettings):
    # Something besides spaces (the class is spelled out: the same in Python and JSON Schema).
    calendar_id: Annotated[str, msgspec.Meta(pattern=r"[^ \t\r\n]")] = "primary"
    event_prefix: str = ""
    include_description: bool = True
    sync_private_events: bool = False
    event_mapping: EventMapping = msgspec.field(default_factory=EventMapping)
    filters: Filters = msgspec.field(default_factory=Filters)
    notifications: Reminders = msgspec.field(default_factory=Reminders)
