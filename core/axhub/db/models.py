"""Tables. Every row that belongs to an organisation carries ``org_id``, and every query
the API makes filters on it (see ``integrations/service.py``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no offset; we store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        tz = value.tzinfo
        if tz is None:
            raise ValueError("naive datetime given to a UTC column")
        if tz is not timezone.utc:  # the common case needs no conversion (hot in bulk inserts)
            value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)

    def result_processor(self, dialect, coltype):
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        # SQLite hands back the text SQLAlchemy stored ("2026-06-01 08:00:00.000000"):
        # the C ISO parser reads it in a third of the time of the dialect's regex.
        parse, utc = datetime.fromisoformat, timezone.utc

        def process(value: str | None) -> datetime | None:
            return None if value is None else parse(value).replace(tzinfo=utc)

        return process


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON, bool: Boolean}


class Integration(Base):
    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_scopes: Mapped[list[Any]] = mapped_column(JSON)
    granted_scopes: Mapped[list[Any]] = mapped_column(JSON)
    permissions: Mapped[list[Any]] = mapped_column(JSON)
    account: Mapped[dict[str, Any]] = mapped_column(JSON)
    connected_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    connected_at: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
    last_sync: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(64))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_integrations_org_provider_status", "org_id", "provider", "status"),)


class Credential(Base):
    """An integration's provider grant, encrypted (Fernet). ``version`` moves on every
    write so that a refresh is a compare-and-swap; ``lease_*`` lets one process refresh
    while the others wait for the new version."""

    __tablename__ = "credentials"

    integration_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class OAuthState(Base):
    """A pending OAuth connection. Only the SHA-256 of ``state`` is kept; the PKCE
    verifier is encrypted like a token."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    user: Mapped[dict[str, Any]] = mapped_column(JSON)
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    provider_scopes: Mapped[list[Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON)
    code_verifier: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class Event(Base):
    """An Attendance-X event. ``version`` moves on every change (the sync engine compares
    it with what it last synced); deletion leaves a tombstone (``deleted_at``) so that
    syncs can carry it to the other side."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(500))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    private: Mapped[bool]
    organizer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attendees: Mapped[list[Any]] = mapped_column(JSON)
    meeting: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_events_org_start", "org_id", "start_at"),)


class EventChange(Base):
    """Every change the events API makes, in order: what a sync must look at since its
    last clean run (the changes a sync itself writes are not logged: they are synced)."""

    __tablename__ = "event_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_event_changes_org_seq", "org_id", "seq"),)


class Attendance(Base):
    __tablename__ = "attendance"

    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class SyncLink(Base):
    """One event known on both sides of one integration: the engine's memory of what it
    last saw (``etag``) and wrote (``local_version``)."""

    __tablename__ = "sync_links"

    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(1024))
    etag: Mapped[str | None] = mapped_column(String(256))
    local_version: Mapped[int] = mapped_column(Integer)
    synced_at: Mapped[datetime]

    __table_args__ = (Index("ux_sync_links_external", "integration_id", "external_id", unique=True),)


class SyncState(Base):
    """Per integration: the incremental cursor, and the lock that lets one run at a time."""

    __tablename__ = "sync_state"

    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    # The last event_changes.seq a clean run covered: the next incremental run only looks
    # at events changed after it (None: look at every event).
    change_mark: Mapped[int | None] = mapped_column(Integer)
    lock_owner: Mapped[str | None] = mapped_column(String(64))
    lock_until: Mapped[datetime | None]
    # The process holding the lock (axhub.runtime.node): a process that starts closes at
    # once the runs of processes gone from its machine, without waiting for their lease.
    lock_node: Mapped[str | None] = mapped_column(String(200))
    running_sync_id: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    dry_run: Mapped[bool]
    error_count: Mapped[int] = mapped_column(Integer)
    triggered_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[list[Any]] = mapped_column(JSON)
    conflicts: Mapped[list[Any]] = mapped_column(JSON)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    # The run's main error code (a failed run's cause, a partial run's commonest): what
    # analytics groups errors by.
    error_code: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_sync_runs_integration_started", "integration_id", "started_at"),
        Index("ix_sync_runs_integration_completed", "integration_id", "completed_at"),  # the last run's duration
        Index("ix_sync_runs_org_started", "org_id", "started_at"),
    )


class ProviderCall(Base):
    """One HTTP call a plugin made to its provider (axhub.metering): what analytics
    times and sizes."""

    __tablename__ = "provider_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    org_id: Mapped[str] = mapped_column(String(128))
    integration_id: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    host: Mapped[str] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)  # 0: no answer (timeout, network)
    duration_ms: Mapped[float] = mapped_column(Float)
    bytes_out: Mapped[int] = mapped_column(Integer)
    bytes_in: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(64))

    # Covers what analytics reads, so its scans never visit the table (SQLite has no
    # INCLUDE; the extra key columns cost little on insert).
    __table_args__ = (Index("ix_provider_calls_org_at", "org_id", "at", "provider", "duration_ms", "bytes_in", "bytes_out"),)


class Organization(Base):
    """An organisation's own settings: the time zone its days are counted in (analytics,
    reminders), the locale its messages are written in, and the attendance rate under
    which an ended event raises an alert. Absent: Paris time, French, the hub's threshold."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    # A fraction (0.5 = 50 %); None: the hub's AXHUB_ATTENDANCE_ALERT_THRESHOLD.
    attendance_alert_threshold: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class SignalOutbox(Base):
    """A domain signal, written in the transaction of the change that raised it, so that
    a crash between the commit and the ``notify`` broadcast loses nothing: rows not yet
    ``dispatched_at`` are broadcast again (at start-up, and by the delivery worker)."""

    __tablename__ = "signal_outbox"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)


class DeliveryMessage(Base):
    """One outbound message of one integration (a webhook call, a chat post): stored
    before any attempt, attempted from here until delivered or out of retries. ``id`` is
    the stable message id receivers dedupe on (Standard Webhooks' ``webhook-id``); the
    lease lets one process at a time attempt it."""

    __tablename__ = "delivery_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    backoff_multiplier: Mapped[float] = mapped_column(Float)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A failed message's code (what analytics files it under), as the integration's lastError.
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ux_delivery_messages_dedupe", "integration_id", "dedupe_key", unique=True),
        Index("ix_delivery_messages_org_created", "org_id", "created_at"),
        Index("ix_delivery_messages_due", "status", "next_attempt_at"),
        Index("ix_delivery_messages_integration_created", "integration_id", "created_at"),
        Index("ix_delivery_messages_subject", "integration_id", "target", "subject"),
    )


class DeliveryMention(Base):
    """A person a stored message mentions (the ``mentions`` of its payload), kept beside
    it when it is stored: a chat's ``activeUsers`` is counted here, no payload decoded."""

    __tablename__ = "delivery_mentions"

    message_id: Mapped[str] = mapped_column(String(40), ForeignKey("delivery_messages.id", ondelete="CASCADE"), primary_key=True)
    integration_id: Mapped[str] = mapped_column(String(40), index=True)
    person: Mapped[str] = mapped_column(String(320), primary_key=True)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40), ForeignKey("delivery_messages.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class DeliveryTarget(Base):
    """Health of one destination of an integration (a webhook endpoint): failing since
    when, and disabled (410 Gone, or failing for too long) until the user re-enables it."""

    __tablename__ = "delivery_targets"

    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[str] = mapped_column(String(128), primary_key=True)
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class SentNotification(Base):
    """A notification the scheduler has sent (a reminder, an alert, a report), by its
    dedupe key: inserted before the broadcast, so that a restart, a crash or a second
    process never sends it again."""

    __tablename__ = "sent_notifications"

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime] = mapped_column(index=True)


class ScheduledFire(Base):
    """The last scheduled sync fire time an integration's sync was started for: a second
    firing of the same time (APScheduler 4 pre-releases can run a job twice when a lease
    lapses, and two processes may both fire) is recognised and ignored."""

    __tablename__ = "scheduled_fires"

    integration_id: Mapped[str] = mapped_column(String(40), ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    fire_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
