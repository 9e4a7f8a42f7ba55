"""Storage: SQLAlchemy 2 (async) models and the engine. The database is the truth."""

from .engine import Database
from .models import (
    Attendance, Base, Credential, DeliveryAttempt, DeliveryMention, DeliveryMessage, DeliveryTarget, Event, EventChange, Integration,
    OAuthState, Organization, ProviderCall, ScheduledFire, SentNotification, SignalOutbox, SyncLink, SyncRun, SyncState,
)
from .subscriptions import PushSignal, PushSubscription

__all__ = [
    "Attendance", "Base", "Credential", "Database", "DeliveryAttempt", "DeliveryMention", "DeliveryMessage",
    "DeliveryTarget", "Event", "EventChange", "Integration", "OAuthState", "Organization", "ProviderCall", "PushSignal",
    "PushSubscription", "ScheduledFire", "SentNotification",
    "SignalOutbox", "SyncLink", "SyncRun", "SyncState",
]
