"""Storage: SQLAlchemy 2 (async) models and the engine. The database is the truth."""

from .engine import Database
from .models import Base, Credential, Integration, OAuthState

__all__ = ["Base", "Credential", "Database", "Integration", "OAuthState"]
