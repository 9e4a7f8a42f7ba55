"""Microsoft 365 settings (spec: "Microsoft 365 — Configuration Teams").

Enumerations are Microsoft Graph's own (``microsoft-graph-v1.0.csdl.xml``): ``importance``
and ``freeBusyStatus`` for events, and Outlook's category colour presets by the names
Outlook shows (Graph stores them as ``preset0``…``preset24``; :data:`CATEGORY_PRESETS`
translates).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec

from axhub import (
    MessageTemplates,
    NotificationToggles,
    NotificationType,
    Settings,
    SettingsError,
    SyncSettings,
    notifications as shared,
)

# "none", then Outlook's colour names in Graph's ``categoryColor`` order: "red" is
# preset0 … "darkCranberry" preset24.
CategoryColor = Literal[
    "none", "red", "orange", "brown", "yellow", "green", "teal", "olive", "blue", "purple", "cranberry",
    "steel", "darkSteel", "gray", "darkGray", "black", "darkRed", "darkOrange", "darkBrown",
    "darkYellow", "darkGreen", "darkTeal", "darkOlive", "darkBlue", "darkPurple", "darkCranberry",
]
CATEGORY_PRESETS: dict[str, str] = {"none": "none",
                                    **{n: f"preset{i}" for i, n in enumerate(get_args(CategoryColor)[1:])}}

Importance = Literal["low", "normal", "high"]
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]

# Patterns mean the same in Python and in JSON Schema (ECMA-262): classes are spelled
# out, and each starts with ``(?![^\n]*\n)`` (no line break anywhere) because Python's
# ``$`` also matches before a final "\n" and ECMA's does not.
_WHOLE = r"^(?![^\n]*\n)"
# A team's id is its Microsoft 365 group's object id, a GUID.
TeamId = Annotated[str, msgspec.Meta(
    pattern=_WHOLE + r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
# Teams channel ids look like "19:4a95f7d8…@thread.tacv2" (older channels: "@thread.skype").
ChannelId = Annotated[str, msgspec.Meta(pattern=_WHOLE + r"19:[^ \t\r\n/]+@thread\.(tacv2|skype)$")]
# "primary" or a Graph calendar id: no spaces or slashes (it goes in a URL path).
CalendarId = Annotated[str, msgspec.Meta(pattern=_WHOLE + r"[^ \t\r\n/]+$")]


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
    category_color: CategoryColor = "none"
    importance: Importance = "normal"
    show_as: ShowAs = "busy"


class TeamsChannel(Settings):
    """Where Teams notifications go (posted with ``ChannelMessage.Send``)."""

    team_id: TeamId  # e.g. from Teams' "Get link to team"
    channel_id: ChannelId


class TeamsChannels(Settings):
    """Channels for some kinds of messages, each falling back to ``teamsChannel`` (the
    same routing as Slack's ``channels``: axhub.notifications.route)."""

    alerts: TeamsChannel | None = None
    reports: TeamsChannel | None = None


class SyncWindow(Settings):
    """The span of the calendarView that delta sync follows, in days around today (Graph's
    delta needs one). Events outside it are read at each full listing only."""

    past_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 365
    future_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 1095


# TeamsIntegration's rule across its fields, in JSON Schema for the OpenAPI (checked by
# its __post_init__): autoCreateMeetings off (or left out), or enabled on.
_MEETINGS_NEED_TEAMS = {"anyOf": [{"properties": {"autoCreateMeetings": {"const": False}}},
                                  {"required": ["enabled"], "properties": {"enabled": {"const": True}}}]}


class MicrosoftSettings(SyncSettings):
    calendar_id: CalendarId = "primary"  # "primary" is the user's default calendar (Graph /me/calendar)
    sync_window: SyncWindow = msgspec.field(default_factory=SyncWindow)
    teams_integration: Annotated[TeamsIntegration, msgspec.Meta(extra_json_schema=_MEETINGS_NEED_TEAMS)] = \
        msgspec.field(default_factory=TeamsIntegration)
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
