"""Microsoft 365 settings (spec: "Microsoft 365 — Configuration Teams").

Enumerations are Microsoft Graph's own (``microsoft-graph-v1.0.csdl.xml``): ``importance``
and ``freeBusyStatus`` for events, and Outlook's category colour presets by the names
Outlook shows (Graph stores them as ``preset0``…``preset24``; :data:`CATEGORY_PRESETS`
translates).
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from axhub import Settings, SettingsError, SyncSettings
from axhub import notifications as shared  # not "notifications": that is a settings field
from axhub.notifications import MessageTemplates, NotificationToggles, NotificationType

# Outlook's colour names, in Graph's ``categoryColor`` order: "red" is preset0 … "darkCranberry" preset24.
_PRESET_NAMES = (
    "red", "orange", "brown", "yellow", "green", "teal", "olive", "blue", "purple", "cranberry",
    "steel", "darkSteel", "gray", "darkGray", "black", "darkRed", "darkOrange", "darkBrown",
    "darkYellow", "darkGreen", "darkTeal", "darkOlive", "darkBlue", "darkPurple", "darkCranberry",
)
CATEGORY_PRESETS: dict[str, str] = {"none": "none", **{n: f"preset{i}" for i, n in enumerate(_PRESET_NAMES)}}

Importance = Literal["low", "normal", "high"]
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Teams channel ids look like "19:4a95f7d8…@thread.tacv2" (older channels: "@thread.skype").
_CHANNEL = re.compile(r"^19:[^\s/]+@thread\.(tacv2|skype)$")


class MeetingDefaults(Settings):
    """Options of the Teams meetings the hub creates (Graph ``onlineMeeting``:
    ``lobbyBypassSettings``, ``recordAutomatically``, ``allowTranscription``)."""

    allow_anonymous: bool = False
    record_automatically: bool = False
    allow_transcription: bool = True


class TeamsIntegration(Settings):
    enabled: bool = False
    auto_create_meetings: bool = False
    default_meeting_settings: MeetingDefaults = msgspec.field(default_factory=MeetingDefaults)

    def __post_init__(self) -> None:
        if self.auto_create_meetings and not self.enabled:
            raise SettingsError("teamsIntegration.autoCreateMeetings", "needs teamsIntegration.enabled set to true")


class OutlookSettings(Settings):
    category_color: str = "none"
    importance: Importance = "normal"
    show_as: ShowAs = "busy"

    def __post_init__(self) -> None:
        if self.category_color not in CATEGORY_PRESETS:
            raise SettingsError(
                "outlookSettings.categoryColor",
                f"must be one of Outlook's category colours: {', '.join(CATEGORY_PRESETS)}",
            )


class TeamsChannel(Settings):
    """Where Teams notifications go (posted with ``ChannelMessage.Send``)."""

    team_id: str
    channel_id: str

    def __post_init__(self) -> None:
        # A team's id is its Microsoft 365 group's object id.
        if not _GUID.match(self.team_id):
            raise SettingsError("teamsChannel.teamId", "must be the team's id, a GUID (e.g. from Teams' 'Get link to team')")
        if not _CHANNEL.match(self.channel_id):
            raise SettingsError("teamsChannel.channelId", "must be a Teams channel id such as 19:…@thread.tacv2")


class TeamsChannels(Settings):
    """Channels for some kinds of messages, each falling back to ``teamsChannel`` (the
    same routing as Slack's ``channels``: axhub.notifications.route)."""

    alerts: TeamsChannel | None = None
    reports: TeamsChannel | None = None


class SyncWindow(Settings):
    """The span of the calendarView that delta sync follows, in days around today (Graph's
    delta needs one). Events outside it are read at each full listing only."""

    past_days: int = 365
    future_days: int = 1095

    def __post_init__(self) -> None:
        if not 0 <= self.past_days <= 3650:
            raise SettingsError("syncWindow.pastDays", "must be between 0 and 3650 days")
        if not 1 <= self.future_days <= 3650:
            raise SettingsError("syncWindow.futureDays", "must be between 1 and 3650 days")


class MicrosoftSettings(SyncSettings):
    calendar_id: str = "primary"  # "primary" is the user's default calendar (Graph /me/calendar)
    sync_window: SyncWindow = msgspec.field(default_factory=SyncWindow)
    teams_integration: TeamsIntegration = msgspec.field(default_factory=TeamsIntegration)
    outlook_settings: OutlookSettings = msgspec.field(default_factory=OutlookSettings)
    # Teams channel notifications: where, which kinds, in which words (the settings
    # every chat plugin shares, with the same names as Slack's).
    teams_channel: TeamsChannel | None = None
    teams_channels: TeamsChannels = msgspec.field(default_factory=TeamsChannels)
    notification_types: list[NotificationType] = msgspec.field(default_factory=shared.default_types)
    message_templates: MessageTemplates = msgspec.field(default_factory=MessageTemplates)
    notifications: NotificationToggles = msgspec.field(default_factory=NotificationToggles)

    def delivers(self, kind: NotificationType) -> bool:
        return shared.delivers(self, kind)

    def channel_for(self, kind: NotificationType) -> TeamsChannel | None:
        """Where a message of ``kind`` goes (None: no channel is set, nothing is posted)."""
        return shared.route(kind, self.teams_channel, alerts=self.teams_channels.alerts,
                                   reports=self.teams_channels.reports)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.calendar_id.strip() or any(c.isspace() or c == "/" for c in self.calendar_id):
            raise SettingsError("calendarId", "must be \"primary\" or a Graph calendar id (no spaces or slashes)")
