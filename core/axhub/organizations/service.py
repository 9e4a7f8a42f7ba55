"""Reading and changing an organisation's settings. An organisation that never set them
counts its days in Paris time and reads French, as Attendance-X's own defaults."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from sqlalchemy import select

from ..db import Organization
from ..errors import validation_error
from ..events.service import check_timezone
from ..state import Services

DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_LOCALE = "fr"
LOCALES = ("fr", "en", "es", "de", "it", "nl", "pt")


class OrganizationSettings(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE


async def settings_of(svc: Services, org_id: str) -> OrganizationSettings:
    async with svc.db.session() as s:
        row = await s.scalar(select(Organization).where(Organization.id == org_id))
    return OrganizationSettings(row.timezone, row.locale) if row else OrganizationSettings()


async def change(svc: Services, org_id: str, body: OrganizationSettings) -> OrganizationSettings:
    check_timezone(body.timezone)
    if body.locale not in LOCALES:
        raise validation_error("locale", f"must be one of {', '.join(LOCALES)}")
    at = datetime.now(timezone.utc)
    async with svc.db.session() as s, s.begin():
        row = await s.get(Organization, org_id)
        if row is None:
            s.add(Organization(id=org_id, timezone=body.timezone, locale=body.locale, updated_at=at))
        else:
            row.timezone, row.locale, row.updated_at = body.timezone, body.locale, at
    return body
