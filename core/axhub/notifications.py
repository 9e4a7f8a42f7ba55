"""What every chat plugin (Slack, Teams, …) does the same way with the hub's
notifications, so that one setting or template means the same in each of them.

- **Kinds**: which of the hub's notification kinds a chat posts (:data:`KINDS`), under
  which of the spec's notification types (``event_reminders``, ``attendance_alerts``,
  ``system_notifications``, ``weekly_reports``), with which template.
- **Settings** a chat plugin puts in its own settings type, with the spec's names:
  ``notificationTypes`` (a list of types), ``messageTemplates`` (:class:`MessageTemplates`)
  and the per-kind ``notifications`` switches (:class:`NotificationToggles`); the
  settings type then satisfies :class:`Preferences`, and :func:`delivers` says whether a
  type is wanted.
- **A chat's settings**: :class:`ChatSettings` puts them together with ``channels``
  (:class:`Channels`) and ``userMentions`` (:class:`UserMentions`; :func:`people` says
  whom to mention) for a plugin that names its channels.
- **Routing**: :func:`route` picks a destination by type (alerts, reports, the default);
  :func:`destinations` lists them (every configured channel for a test notice).
- **Words**: :func:`compose` fills the organisation's template for a notification in
  its language and time zone (``axhub.templates``), user data escaped with the chat's
  own ``escape``, plus the event's details line; the plugin only lays it out in its
  markup (Block Kit, HTML…).
- **Audience**: :func:`audience` — the organisation's connected integrations of the
  calling provider that may get the notification, and how to write for them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping, Protocol, TypeVar

import msgspec

from . import templates
from .errors import InvalidCredentials, ProviderError, RateLimited
from .types import Connection, DeliveryOutcome, Notification, Settings

if TYPE_CHECKING:
    from .provider import ProviderContext

NotificationType = Literal["event_reminders", "attendance_alerts", "system_notifications", "weekly_reports"]
NOTIFICATION_TYPES: tuple[NotificationType, ...] = ("event_reminders", "attendance_alerts", "system_notifications",
                                                    "weekly_reports")
# What a chat posts when its settings do not say: weekly reports are opt-in.
DEFAULT_TYPES: tuple[NotificationType, ...] = ("event_reminders", "attendance_alerts", "system_notifications")

# The hub's notification kinds chats post: the spec's notification type, and the
# template (a MessageTemplates attribute; None: the fixed text of SYSTEM_TEXT).
KINDS: dict[str, tuple[NotificationType, str | None]] = {
    "eventReminder": ("event_reminders", "event_reminder"),
    "attendanceAlert": ("attendance_alerts", "attendance_alert"),
    "weeklyReport": ("weekly_reports", "weekly_report"),
    "syncErrorNotification": ("system_notifications", None),
    "syncSuccessNotification": ("system_notifications", None),
    "integrationError": ("system_notifications", None),
    # A test notice on demand (POST /api/integrations/:id/test {"sendTestMessage": true}):
    # to one integration, every channel it names, whatever its switches say.
    "testNotification": ("system_notifications", None),
}
TEST_KIND = "testNotification"
SYSTEM_TEXT = {
    "fr": {"syncErrorNotification": "❌ La synchronisation {provider} a échoué : {errorMessage}",
           "syncSuccessNotification": "✅ Synchronisation {provider} terminée",
           "integrationError": "⚠️ Intégration {provider} en erreur : {errorMessage}",
           "testNotification": "🔔 Message de test d'Attendance-X : les notifications {provider} arrivent ici"},
    "en": {"syncErrorNotification": "❌ The {provider} sync failed: {errorMessage}",
           "syncSuccessNotification": "✅ The {provider} sync completed",
           "integrationError": "⚠️ The {provider} integration has a problem: {errorMessage}",
           "testNotification": "🔔 Attendance-X test message: {provider} notifications arrive here"},
}


class MessageTemplates(Settings):
    """The spec's ``messageTemplates``; its own examples are the defaults. Checked when
    saved (``axhub.templates.check``): a notification never fails on a template."""

    event_reminder: templates.Template = "📅 Rappel: {eventName} commence dans {timeUntil}"
    attendance_alert: templates.Template = "⚠️ Faible taux de présence pour {eventName}: {attendanceRate}%"
    weekly_report: templates.Template = "📊 Rapport hebdomadaire de présence"

    def __post_init__(self) -> None:
        for attr, key in (("event_reminder", "eventReminder"), ("attendance_alert", "attendanceAlert"),
                          ("weekly_report", "weeklyReport")):
            templates.check(f"messageTemplates.{key}", getattr(self, attr))


class NotificationToggles(Settings):
    """Per-kind switches of the spec's PUT example. ``null`` (the default) defers to
    ``notificationTypes``; ``true``/``false`` override it for that kind."""

    event_reminders: bool | None = None
    attendance_alerts: bool | None = None
    weekly_reports: bool | None = None


class Preferences(Protocol):
    """The notification part of a chat plugin's settings type."""

    notification_types: list[NotificationType]
    message_templates: MessageTemplates
    notifications: NotificationToggles


def default_types() -> list[NotificationType]:
    """A fresh ``notificationTypes`` default (``msgspec.field(default_factory=default_types)``)."""
    return list(DEFAULT_TYPES)


class Channels(Settings):
    """Where each kind goes (:func:`route`): alerts and reports fall back to ``default``."""

    default: str | None = None
    alerts: str | None = None
    reports: str | None = None


class UserMentions(Settings):
    """@-mentions (off by default: pinging people is opt-in); the roles count while ``enabled``."""

    enabled: bool = False
    mention_managers: bool = True
    mention_organizers: bool = True


class ChatSettings(Settings, kw_only=True):
    """A chat plugin's settings with named channels: ``channels`` and the spec's
    notification settings (:class:`Preferences`), ``userMentions``. Subclass it; put the
    provider's channel rules in :meth:`check_channel` (run when settings are saved)."""

    channels: Channels = msgspec.field(default_factory=Channels)
    notification_types: list[NotificationType] = msgspec.field(default_factory=lambda: list(DEFAULT_TYPES))
    message_templates: MessageTemplates = msgspec.field(default_factory=MessageTemplates)
    notifications: NotificationToggles = msgspec.field(default_factory=NotificationToggles)
    user_mentions: UserMentions = msgspec.field(default_factory=UserMentions)

    def __post_init__(self) -> None:
        for name in ("default", "alerts", "reports"):
            if (value := getattr(self.channels, name)) is not None:
                self.check_channel(f"channels.{name}", value)

    def check_channel(self, field: str, value: str) -> None:
        """Raise ``SettingsError(field, …)`` for a channel the provider would refuse."""

    def channel_for(self, kind: NotificationType) -> str | None:
        """Where a message of ``kind`` goes (:func:`route`: alerts and reports fall back to
        ``channels.default``)."""
        return route(kind, self.channels.default, alerts=self.channels.alerts, reports=self.channels.reports)

    def configured_channels(self) -> list[str]:
        """Every channel the settings name (a test notice goes to each)."""
        return [c for c in (self.channels.default, self.channels.alerts, self.channels.reports) if c]


def people(data: Mapping[str, Any], mentions: UserMentions) -> list[str]:
    """E-mails to mention, once each: the event's organizer and attendees with the
    organizer role (``mentionOrganizers``), attendees with the manager role
    (``mentionManagers``: Attendance-X marks an event's managers so); none unless enabled."""
    if not mentions.enabled:
        return []
    emails: list[str] = []
    organizer = data.get("organizer")
    if mentions.mention_organizers and isinstance(organizer, Mapping) and organizer.get("email"):
        emails.append(organizer["email"])
    for attendee in data.get("attendees") or []:
        role = (attendee or {}).get("role") if isinstance(attendee, Mapping) else None
        if (role == "organizer" and mentions.mention_organizers) or (role == "manager" and mentions.mention_managers):
            emails.append(attendee["email"])
    return list(dict.fromkeys(e.strip().lower() for e in emails if e))


def delivers(settings: Preferences, kind: NotificationType) -> bool:
    """Whether messages of ``kind`` are sent: its toggle when set, else ``notificationTypes``."""
    toggle = getattr(settings.notifications, kind, None)
    return toggle if toggle is not None else kind in settings.notification_types


T = TypeVar("T")


def route(kind: NotificationType, default: T | None, *, alerts: T | None = None, reports: T | None = None) -> T | None:
    """Where a message of ``kind`` goes: attendance alerts to ``alerts``, weekly reports
    to ``reports``, each falling back to ``default``; everything else to ``default``."""
    if kind == "attendance_alerts":
        return alerts or default
    if kind == "weekly_reports":
        return reports or default
    return default


def destinations(kind: str, routed: T | None, configured: "Iterable[T | None]") -> list[T | None]:
    """Where one notification's messages go: ``routed`` (see :func:`route`), or, for a
    test notice, each channel the settings name (``configured``), once — ``routed``
    when they name none. A plugin enqueues one message per destination."""
    if kind == TEST_KIND:
        named: list[T | None] = []
        for channel in configured:  # by equality: a channel may be a struct (Teams)
            if channel is not None and channel not in named:
                named.append(channel)
        if named:
            return named
    return [routed]


@dataclasses.dataclass(frozen=True)
class Composed:
    """A notification in words, before a chat's layout. ``headline`` and ``details`` are
    escaped for the chat; ``values`` are the raw placeholder values."""

    kind: str  # the hub's kind (eventReminder…)
    type: NotificationType
    headline: str  # the template filled
    details: tuple[str, ...]  # date · time, location, organizer: what is known of them
    values: dict[str, str]


def compose(notification: Notification, settings: Preferences, fmt: templates.Formatter, locale: str,
            escape: Callable[[str], str] = lambda s: s) -> Composed | None:
    """``notification`` in the organisation's words, or None when it is not a kind chats
    post or these settings do not want it."""
    known = KINDS.get(notification.kind)
    # A test notice is asked for by name: the switches do not hold it back.
    if known is None or (notification.kind != TEST_KIND and not delivers(settings, known[0])):
        return None
    kind, template_attr = known
    template = getattr(settings.message_templates, template_attr) if template_attr else \
        SYSTEM_TEXT.get(locale, SYSTEM_TEXT["en"])[notification.kind]
    values = templates.values_for(notification.data, fmt)
    details = tuple(escape(v) for v in (
        " · ".join(x for x in (values.get("eventDate"), values.get("eventTime")) if x),
        values.get("location"), values.get("organizer"),
    ) if v)
    return Composed(notification.kind, kind, templates.render(template, values, escape), details, values)


@dataclasses.dataclass(frozen=True)
class Audience:
    """Who gets a notification from one provider, and how to write to them."""

    connections: list[Connection]
    formatter: templates.Formatter
    locale: str


async def audience(ctx: "ProviderContext", notification: Notification) -> Audience | None:
    """The organisation's connected integrations of ``ctx``'s provider for a kind chats
    post, with the organisation's formatter; None when there is nothing to do. A
    provider's own ``integrationError`` is left to the other channels (it may be the
    very thing that cannot post)."""
    if notification.kind not in KINDS:
        return None
    if notification.kind == "integrationError" and notification.data.get("provider") == ctx.info.slug:
        return None
    connections = await ctx.deliveries.integrations(notification.org_id)
    if notification.kind == TEST_KIND:  # for one integration, never the whole organisation
        connections = [c for c in connections if c.id == notification.data.get("integrationId")]
    if not connections:
        return None
    org = await ctx.deliveries.organization(notification.org_id)
    return Audience(connections, templates.Formatter(org.timezone, org.locale), org.locale)


__all__ = [
    "DEFAULT_TYPES", "KINDS", "NOTIFICATION_TYPES", "SYSTEM_TEXT", "TEST_KIND", "Audience", "Channels", "ChatSettings",
    "Composed", "MessageTemplates", "UserMentions", "people",
    "NotificationToggles", "NotificationType", "Preferences", "audience", "compose", "default_types", "delivers", "destinations",
    "refused", "route",
]


def refused(exc: ProviderError, *, final: bool) -> DeliveryOutcome:
    """What a chat plugin's ``deliver`` answers when the provider did not take a message:
    throttled, it goes again after the provider's ``Retry-After``; a dead grant fails it
    (the integration needs a reconnect); otherwise it fails when ``final`` (the
    provider's last word: no such channel, no permission) and is retried when not (no
    answer, a 5xx)."""
    error = f"{exc.reason}: {exc.message}"
    if isinstance(exc, RateLimited):
        return DeliveryOutcome(status="retry", http_status=exc.status, retry_after=exc.retry_after,
                               error=error, code="RATE_LIMIT_EXCEEDED")
    if isinstance(exc, InvalidCredentials):
        return DeliveryOutcome(status="failed", http_status=exc.status, error=error, code="INVALID_CREDENTIALS")
    return DeliveryOutcome(status="failed" if final else "retry", http_status=exc.status,
                           retry_after=exc.retry_after, error=error, code=exc.code)
