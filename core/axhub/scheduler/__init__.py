"""The scheduler: automatic syncs (one schedule per integration), reminders, alerts,
reports, token refresh, delivery retries; see docs/operations.md, "The scheduler"."""

from .service import Scheduler

__all__ = ["Scheduler"]
