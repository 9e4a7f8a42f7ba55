"""Google Calendar settings (spec: "Google Calendar — Configuration avancée")."""

from __future__ import annotations

import msgspec

from axhub import Settings, SettingsError, SyncSettings


class EventMapping(Settings):
    title_prefix: str = ""
    include_attendees: bool = True
    include_description: bool = True
    include_location: bool = True
    color_id: str | None = None

    def __post_init__(self) -> None:
        # Google's event palette has the ids "1" to "11" (colors.get, "event").
        if self.color_id is not None and self.color_id not in {str(i) for i in range(1, 12)}:
            raise SettingsError("eventMapping.colorId", "must be one of Google's event colour ids \"1\" to \"11\"")


class Filters(Settings):
    event_types: list[str] = []
    exclude_private: bool = False
    min_duration: int = 0

    def __post_init__(self) -> None:
        if self.min_duration < 0:
            raise SettingsError("filters.minDuration", "must be zero or more minutes")


class Reminders(Settings):
    reminders: bool = False
    reminder_minutes: list[int] = []

    def __post_init__(self) -> None:
        # Calendar API: at most 5 override reminders, each 0..40320 minutes (4 weeks).
        if len(self.reminder_minutes) > 5:
            raise SettingsError("notifications.reminderMinutes", "Google allows at most 5 reminders")
        if any(not 0 <= m <= 40320 for m in self.reminder_minutes):
            raise SettingsError("notifications.reminderMinutes", "each must be between 0 and 40320 minutes")


class GoogleSettings(SyncSettings):
    calendar_id: str = "primary"
    event_prefix: str = ""
    include_description: bool = True
    sync_private_events: bool = False
    event_mapping: EventMapping = msgspec.field(default_factory=EventMapping)
    filters: Filters = msgspec.field(default_factory=Filters)
    notifications: Reminders = msgspec.field(default_factory=Reminders)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.calendar_id.strip():
            raise SettingsError("calendarId", "must not be empty")
