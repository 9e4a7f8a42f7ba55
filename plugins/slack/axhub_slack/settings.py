"""Slack settings (spec: "Slack — Configuration des notifications", the "Configurer les
notifications Slack" example and the Slack integration of ``GET /integrations``).

Everything a caller may type is checked here, when it is saved, so that a notification
never fails later on a channel name Slack would refuse or a template it cannot fill.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import msgspec

from axhub import Settings, SettingsError
from axhub import notifications as shared  # not "notifications": that is a settings field
# The notification settings every chat plugin shares (axhub.notifications), under the
# names this module always had.
from axhub.notifications import MessageTemplates, NotificationToggles, NotificationType, UserMentions

# Slack: channel ids are C… (public) or G… (private, older ones), upper-case letters and digits.
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,}")
# Slack's channel-name rules: at most 80 characters, lowercase letters (any script),
# digits, hyphens, underscores and periods; not punctuation only.
_NAME_PUNCTUATION = frozenset("-_.")


def check_channel(field: str, value: str | None) -> None:
    """``#channel-name`` (Slack's naming rules) or a channel id (``C…``/``G…``)."""
    if value is None:
        return
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
        if not char.isalnum():
            raise SettingsError(field, f"Slack channel names allow only letters, digits, - _ and . (not {char!r})")
        if char != char.lower():
            raise SettingsError(field, "Slack channel names are lowercase")
    if all(char in _NAME_PUNCTUATION for char in name):
        raise SettingsError(field, "a Slack channel name cannot be punctuation only")


def check_webhook_url(field: str, value: str | None) -> None:
    """Slack's incoming (or workflow) webhooks live at https://hooks.slack.com/…; any other
    address would make the hub post an organisation's data somewhere else."""
    if value is None:
        return
    parts = urlsplit(value)
    if (
        parts.scheme != "https"
        or parts.hostname != "hooks.slack.com"
        or parts.port is not None
        or parts.username is not None
        or parts.password is not None
        or parts.path.strip("/") == ""
    ):
        raise SettingsError(field, "must be a Slack webhook URL: https://hooks.slack.com/services/…")


class Channels(Settings):
    """Where each kind of message goes; ``default`` wins over the top-level ``defaultChannel``."""

    default: str | None = None
    alerts: str | None = None
    reports: str | None = None

    def __post_init__(self) -> None:
        for name in ("default", "alerts", "reports"):
            check_channel(f"channels.{name}", getattr(self, name))


class SlackSettings(Settings):
    webhook_url: str | None = None
    default_channel: str | None = None
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
