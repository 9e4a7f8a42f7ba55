"""Storage: SQLAlchemy 2 (async) models and the engine. The database is the truth."""

from .engine import Database
from .models import Attendance, Base, Credential, Event, EventChange, Integration, OAuthState, SyncLink, SyncRun, SyncState

__all__ = [
    "Attendance", "Base", "Credential", "Database", "Event", "EventChange", "Integration", "OAuthState", "SyncLink", "SyncRun",
    "SyncState",
]
