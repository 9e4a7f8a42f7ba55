"""``apiLimits`` for every provider: what its rate-limit headers said, completed from
its documented daily quota (``ProviderInfo.daily_quota``) and the hub's own count of
the calls it made for the integration since midnight UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
from sqlalchemy import func, select

from ..db import ProviderCall
from ..runtime.services import Services
from ..types import ApiLimits, ProviderInfo


async def calls_today(svc: Services, integration_id: str, now: datetime) -> int:
    await svc.recorder.flush()  # the calls just made (the test's own) count
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    async with svc.db.connect() as s:
        query = select(func.count()).where(ProviderCall.integration_id == integration_id, ProviderCall.at >= midnight)
        return int((await s.execute(query)).scalar_one())


async def api_limits(svc: Services, info: ProviderInfo, integration_id: str, reported: ApiLimits | None) -> ApiLimits:
    now = datetime.now(timezone.utc)
    limits = reported or ApiLimits()
    count = await calls_today(svc, integration_id, now)
    daily = limits.daily_limit if limits.daily_limit is not None else info.daily_quota
    remaining = limits.remaining
    reset_at = limits.reset_at
    if daily is not None and limits.daily_limit is None and remaining is None:
        remaining = max(0, daily - count)
    if reset_at is None and daily is not None:
        reset_at = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return msgspec.structs.replace(limits, remaining=remaining, reset_at=reset_at, daily_limit=daily, calls_today=count)
