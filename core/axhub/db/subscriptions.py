"""The push tables: providers' change subscriptions and the signals their notifications
carried (docs/push.md). Kept beside ``models.py``, on the same ``Base``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class PushSubscription(Base):
    """One subscription at a provider for one integration (a Google channel). ``secret``
    (the channel token the provider echoes) is sealed by the vault's cipher. ``state``:
    pending (asked, not confirmed yet), active, failing (its last renewal or creation
    failed; ``renew_at`` says when it is tried again), stopped (replaced or removed;
    kept only until the provider has been told). ``renew_at`` is drawn inside the
    renewal window, so renewals spread; ``lease_*`` makes each renewal happen once
    across processes."""

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(256))
    resource_id: Mapped[str | None] = mapped_column(String(256))
    resource: Mapped[str] = mapped_column(String(1024))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None]
    renew_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    last_notified_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ux_push_subscriptions_provider_id", "provider", "provider_id", unique=True),
        Index("ix_push_subscriptions_integration", "integration_id"),
        Index("ix_push_subscriptions_due", "state", "renew_at"),
    )


class PushSignal(Base):
    """A verified signal from a notification, stored before the provider is answered,
    worked after (``handled_at``): a process that dies in between leaves it for the
    sweep. ``(subscription_id, dedupe_key)`` is unique, so a notification delivered
    twice is stored, and worked, once."""

    __tablename__ = "push_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(40))
    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ux_push_signals_dedupe", "subscription_id", "dedupe_key", unique=True),
        Index("ix_push_signals_pending", "integration_id", "handled_at"),
    )
