"""Tables. Every row that belongs to an organisation carries ``org_id``, and every query
the API makes filters on it (see ``integrations/service.py``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no offset; we store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


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
