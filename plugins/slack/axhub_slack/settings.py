"""Slack settings (spec: "Slack — Configuration des notifications", the "Configurer les
notifications Slack" example and the Slack integration of ``GET /integrations``).

Everything a caller may type is checked here, when it is saved, so that a notification
never fails later on a channel name Slack would refuse or a template it cannot fill.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from axhub import (
    MessageTemplates,
    NotificationToggles,
    NotificationType,
    Settings,
    SettingsError,
    UserMentions,
    notifications as shared,
)
# The notification settings every chat plugin shares (axhub.notifications), under the
# names this module always had.

# Slack: channel ids are C… (public) or G… (private, older ones), upper-case letters and digits.
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,}")
# Slack's channel-name rules: at most 80 characters, lowercase letters (any script),
# digits, hyphens, underscores and periods; not punctuation only.
_NAME_PUNCTUATION = frozenset("-_.")
# The longest value: "#" and an 80-character name (channel ids are shorter).
MAX_CHANNEL = 81


def _name_char(char: str) -> bool:
    """A letter or digit of a channel name, any script but lowercase. Only the Basic
    Multilingual Plane: a JSON Schema regex cannot name a character beyond it the way
    Python does (ECMA-262 sees two UTF-16 units)."""
    return ord(char) <= 0xFFFF and char.isalnum() and char == char.lower()


def _class(predicate) -> str:
    """A regex character class of the BMP characters ``predicate`` accepts, as ``\\uXXXX``
    ranges: the same set in Python and in ECMA-262, whatever Unicode tables each has."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if predicate(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "[" + "".join(rf"\u{a:04x}" + (rf"-\u{b:04x}" if b > a else "") for a, b in ranges) + "]"


# What check_channel accepts (with MAX_CHANNEL), for the OpenAPI: ``(?![^\n]*\n)``
# because Python's ``$`` also matches before a final "\n" and ECMA's does not.
# "#", then name characters, not punctuation only (the class is written once: it is 8 KB).
_NAME = _class(lambda char: char in _NAME_PUNCTUATION or _name_char(char))
CHANNEL_PATTERN = rf"^(?![^\n]*\n)(?:[CG][A-Z0-9]{{8,}}|#(?![-_.]*$){_NAME}+)$"
# A channel setting. The pattern is declared, and enforced by check_channel, whose errors
# say what is wrong (an 8 KB character class in a message would not).
Channel = Annotated[str, msgspec.Meta(max_length=MAX_CHANNEL, extra_json_schema={"pattern": CHANNEL_PATTERN})]

# Slack's incoming (or workflow) webhooks live at https://hooks.slack.com/…, with a path
# (printable ASCII, something besides slashes before any query); any other address would
# make the hub post an organisation's data somewhere else.
WEBHOOK_PATTERN = r"^(?![^\n]*\n)https://hooks\.slack\.com/+[!-\"$-.0->@-~][!-~]*$"
WebhookUrl = Annotated[str, msgspec.Meta(extra_json_schema={"pattern": WEBHOOK_PATTERN})]
_WEBHOOK = re.compile(WEBHOOK_PATTERN)


def check_channel(field: str, value: str | None) -> None:
    """``#channel-name`` (Slack's naming rules) or a channel id (``C…``/``G…``):
    exactly what :data:`CHANNEL_PATTERN` says."""
    if value is None:
        return
    if len(value) > MAX_CHANNEL:
        raise SettingsError(field, "Slack channel names have at most 80 characters")
    if _CHANNEL_ID.fullmatch(value):
        return
    if not value.startswith("#"):
        raise SettingsError(field, "must be a #channel-name or a Slack channel id (C…/G…)")
    name = value[1:]
    if not name:
        raise SettingsError(field, "the channel name after # is empty")
    if len(name) > 80:
        raise SettingsError(field, "Slack channel names have at most 80 characters")
    for char in name:
        if char in _NAME_PUNCTUATION:
            continue
        if not char.isalnum() or ord(char) > 0xFFFF:
            raise SettingsError(field, f"Slack channel names allow only letters, digits, - _ and . (not {char!r})")
        if not _name_char(char):
            raise SettingsError(field, "Slack channel names are lowercase")
    if all(char in _NAME_PUNCTUATION for char in name):
        raise SettingsError(field, "a Slack channel name cannot be punctuation only")


def check_webhook_url(field: str, value: str | None) -> None:
    """:data:`WEBHOOK_PATTERN`, with an error that says what is expected."""
    if value is not None and not _WEBHOOK.search(value):
        raise SettingsError(field, "must be a Slack webhook URL: https://hooks.slack.com/services/…")


class Channels(Settings):
    """Where each kind of message goes; ``default`` wins over the top-level ``defaultChannel``."""

    default: Channel | None = None
    alerts: Channel | None = None
    reports: Channel | None = None

    def __post_init__(self) -> None:
        for name in ("default", "alerts", "reports"):
            check_channel(f"channels.{name}", getattr(self, name))


class SlackSettings(Settings):
    webhook_url: WebhookUrl | None = None
    default_channel: Channel | None = None
    notification_types: list[NotificationType] = msgspec.field(default_factory=shared.default_types)
    channels: Channels = msgspec.field(default_factory=Channels)
    message_templates: MessageTemplates = msgspec.field(default_factory=MessageTemplates)
    user_mentions: UserMentions = msgspec.field(default_factory=UserMentions)
    notifications: NotificationToggles = msgspec.field(default_factory=NotificationToggles)

    def __post_init__(self) -> None:
        check_webhook_url("webhookUrl", self.webhook_url)
        check_channel("defaultChannel", self.default_channel)

    def delivers(self, kind: NotificationType) -> bool:
        """Whether messages of ``kind`` are sent: its toggle when set, else ``notificationTypes``."""
        return shared.delivers(self, kind)

    def channel_for(self, kind: NotificationType) -> str | None:
        """The channel a message of ``kind`` goes to (None: the installation's webhook channel)."""
        return shared.route(kind, self.channels.default or self.default_channel,
                                   alerts=self.channels.alerts, reports=self.channels.reports)

    def configured_channels(self) -> list[str]:
        """Every channel the settings name, once each, in a stable order."""
        named = [self.default_channel, self.channels.default, self.channels.alerts, self.channels.reports]
        return list(dict.fromkeys(c for c in named if c))
