"""The integrations domain's lookups and its face to plugins: an organisation's
integrations (scoped to the caller: another organisation's integration does not exist
for you, 404 never 403), an integration's ``Connection`` for provider hooks, the
recorded last error, and the installed providers."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

import msgspec
from sqlalchemy import select, update

from ..auth import Identity
from ..db import Integration
from ..errors import ApiError, InvalidCredentials, ProviderError, validation_error
from ..metering import attribute
from ..runtime.services import Services
from ..types import PROVIDER_TYPES, Connection, UserInfo
from ..vault import dead_grant, open_settings
from . import schemas as s

STATUSES = ("connected", "disconnected", "error")


def now() -> datetime:
    return datetime.now(timezone.utc)


def not_found(integration_id: str) -> ApiError:
    return ApiError("INTEGRATION_NOT_FOUND", f"integration {integration_id!r} not found")


async def get_owned(svc: Services, identity: Identity, integration_id: str) -> Integration:
    async with svc.db.autocommit() as session:
        row = await session.scalar(
            select(Integration).where(Integration.id == integration_id, Integration.org_id == identity.org_id)
        )
    if row is None:
        raise not_found(integration_id)
    return row


def known_provider_slugs(svc: Services) -> set[str]:
    return set(svc.plugins.records)


# The list's order: newest first.
LISTED = (Integration.connected_at.desc(), Integration.id)


# The columns the list's filters match, by the filter's name in the API.
FILTERS = {"provider": Integration.provider, "status": Integration.status, "type": Integration.type}


def list_filters(svc: Services, provider: str | None, status: str | None, type_: str | None) -> dict[str, str]:
    """The list's filters the caller gave (checked), by name."""
    if provider is not None and provider not in known_provider_slugs(svc):
        raise validation_error("provider", f"unknown provider {provider!r}; known: {', '.join(sorted(known_provider_slugs(svc)))}")
    if status is not None and status not in STATUSES:
        raise validation_error("status", f"must be one of {', '.join(STATUSES)}")
    if type_ is not None and type_ not in PROVIDER_TYPES:
        raise validation_error("type", f"must be one of {', '.join(PROVIDER_TYPES)}")
    return {k: v for k, v in (("provider", provider), ("status", status), ("type", type_)) if v is not None}


async def list_rows(
    svc: Services, identity: Identity, provider: str | None, status: str | None, type_: str | None
) -> list[Integration]:
    """The organisation's integrations, newest first, as the API's filters ask."""
    filters = list_filters(svc, provider, status, type_)
    query = select(Integration).where(Integration.org_id == identity.org_id,
                                      *(FILTERS[k] == v for k, v in filters.items())).order_by(*LISTED)
    async with svc.db.session() as session:
        rows = (await session.scalars(query)).all()
    return list(rows)


def connection(svc: Services, row: Integration) -> Connection:
    info = svc.hub.provider(row.provider)

    async def refresh(creds):
        if not svc.hub.implements(row.provider, "refresh"):
            return creds
        attribute(row.provider, row.org_id, row.id)
        return await svc.hub.call(row.provider, "refresh", credentials=creds)

    return Connection(
        id=row.id,
        org_id=row.org_id,
        provider=row.provider,
        settings=msgspec.convert(open_settings(svc.cipher, row.settings, info.secret_settings), info.settings_type),
        granted_scopes=tuple(row.granted_scopes),
        account=msgspec.convert(row.account, UserInfo),
        _credentials=lambda: svc.vault.get(row.id, refresh),
    )


async def record_error(svc: Services, row: Integration, exc: ProviderError) -> s.LastError:
    at = now()
    values: dict[str, Any] = {"last_error": exc.code, "last_error_message": exc.message, "last_error_at": at, "updated_at": at}
    if isinstance(exc, InvalidCredentials):
        values["status"] = "error"
        values["last_error_message"] = dead_grant(exc.message, svc.config.sandbox)
    async with svc.db.session() as session, session.begin():
        await session.execute(update(Integration).where(Integration.id == row.id).values(**values))
    return s.LastError(code=exc.code, message=values["last_error_message"], at=at)


@functools.cache
def _schema(settings_type: type) -> dict[str, Any]:
    # A type's JSON Schema does not change while the process runs; building it is most of
    # what answering GET /providers costs.
    return msgspec.json.schema(settings_type)


def providers(svc: Services) -> list[s.ProviderOut]:
    out = []
    for record in svc.plugins.records.values():
        info = record.info
        if info is None:
            out.append(s.ProviderOut(slug=record.name, status=record.status, version=record.version, distribution=record.distribution, error=record.error))  # type: ignore[arg-type]
            continue
        out.append(
            s.ProviderOut(
                slug=info.slug,
                status="loaded",
                version=record.version,
                distribution=record.distribution,
                name=info.name,
                type=info.type,
                description=info.description,
                capabilities=list(info.capabilities),
                hooks=list(record.hooks),
                scopes=[s.ScopeOut(name=x.name, permissions=list(x.permissions), provider_scopes=list(x.provider_scopes), description=x.description) for x in info.scopes],
                default_scopes=list(info.default_scopes),
                settings_schema=_schema(info.settings_type),
                sandbox=svc.hub.sandbox_base is not None and info.sandbox is not None,
            )
        )
    return out
