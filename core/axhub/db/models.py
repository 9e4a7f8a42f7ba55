"""Tables. Every row that belongs to an organisation carries ``org_id``, and every query
the API makes filters on it (see ``integrations/service.py``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
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
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_sync_runs_integration_started", "integration_id", "started_at"),
        Index("ix_sync_runs_org_started", "org_id", "started_at"),
    )
