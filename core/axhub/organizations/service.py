"""Reading and changing an organisation's settings. An organisation that never set them
counts its days in Paris time and reads French, as Attendance-X's own defaults, and is
alerted under the hub's attendance threshold."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

import msgspec
from sqlalchemy import select

from ..db import Organization
from ..errors import validation_error
from ..runtime.services import Services
from ..validation import TimeZone, check_timezone

DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_LOCALE = "fr"
LOCALES = ("fr", "en", "es", "de", "it", "nl", "pt")


# Declared so the OpenAPI lists what is accepted: the locales templates are written in,
# a fraction.
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class OrganizationSettings(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    timezone: TimeZone = DEFAULT_TIMEZONE
    locale: Literal[LOCALES] = DEFAULT_LOCALE  # type: ignore[valid-type]
    # A fraction: an ended event whose attendance rate is under it raises attendanceAlert.
    # null: the hub's AXHUB_ATTENDANCE_ALERT_THRESHOLD. Left out of a PUT: unchanged, so
    # that a client that knows only the time zone and locale does not reset it.
    attendance_alert_threshold: Fraction | None | msgspec.UnsetType = msgspec.UNSET


async def settings_of(svc: Services, org_id: str) -> OrganizationSettings:
    async with svc.db.session() as s:
        row = await s.scalar(select(Organization).where(Organization.id == org_id))
    if row is None:
        return OrganizationSettings(attendance_alert_threshold=None)
    return OrganizationSettings(row.timezone, row.locale, row.attendance_alert_threshold)


async def settings_for(svc: Services, org_ids: list[str]) -> dict[str, OrganizationSettings]:
    """Each organisation's settings, for jobs that act for many at once (alerts, weekly
    reports): one query per thousand organisations; the threshold is filled in with the
    hub's where an organisation set none."""
    default = svc.config.attendance_alert_threshold
    out = {org_id: OrganizationSettings(attendance_alert_threshold=default) for org_id in org_ids}
    async with svc.db.session() as s:
        for chunk in range(0, len(org_ids), 1000):
            rows = await s.execute(select(Organization.id, Organization.timezone, Organization.locale,
                                          Organization.attendance_alert_threshold)
                                   .where(Organization.id.in_(org_ids[chunk:chunk + 1000])))
            for org_id, tz, locale, threshold in rows:
                out[org_id] = OrganizationSettings(tz, locale, default if threshold is None else threshold)
    return out


async def change(svc: Services, org_id: str, body: OrganizationSettings) -> OrganizationSettings:
    check_timezone(body.timezone)
    if body.locale not in LOCALES:
        raise validation_error("locale", f"must be one of {', '.join(LOCALES)}")
    threshold = body.attendance_alert_threshold
    if isinstance(threshold, (int, float)) and not 0 <= threshold <= 1:  # NaN fails this too
        raise validation_error("attendanceAlertThreshold",
                               "must be a fraction between 0 and 1 (0.5 for 50 %), or null for the hub's default")
    at = datetime.now(timezone.utc)
    async with svc.db.session() as s, s.begin():
        row = await s.get(Organization, org_id)
        if row is None:
            row = Organization(id=org_id, attendance_alert_threshold=None)
            s.add(row)
        row.timezone, row.locale, row.updated_at = body.timezone, body.locale, at
        if threshold is not msgspec.UNSET:
            row.attendance_alert_threshold = threshold
    return await settings_of(svc, org_id)
