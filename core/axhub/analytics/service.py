"""Integration analytics (``GET /api/integrations/analytics/metrics``), computed in the
database from what really happened: sync runs, the messages messaging plugins sent
(the delivery store: for Slack or webhooks, a message is their kind of sync), and the
provider calls every plugin makes (axhub.metering).

The database groups rows into buckets of UTC time (a few thousand groups at most,
whatever the number of rows), as coarse as the organisation's midnights allow; the
buckets are then folded into the organisation's days here, which is exact for every time
zone (all offsets are whole quarter hours) and the same on SQLite and PostgreSQL,
neither of which has to know the zone.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from math import gcd
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, cast, func, select

from ..db import DeliveryMessage, Integration, ProviderCall, SyncRun
from ..errors import validation_error
from ..organizations.service import settings_of
from ..runtime.services import Services

PERIODS = {"day": 1, "week": 7, "month": 30, "quarter": 90}
MESSAGING = ("communication", "webhook")
FINISHED = ("completed", "partial", "failed")


@dataclasses.dataclass
class Window:
    zone: ZoneInfo
    days: list[date]
    start: datetime  # UTC, the first day's local midnight
    end: datetime  # UTC, now

    @classmethod
    def last(cls, period: str, zone: ZoneInfo, now: datetime) -> "Window":
        today = now.astimezone(zone).date()
        days = [today - timedelta(days=n) for n in range(PERIODS[period] - 1, -1, -1)]
        start = datetime.combine(days[0], time(), zone).astimezone(timezone.utc)
        return cls(zone, days, start, now)

    def __post_init__(self) -> None:
        midnights = [int(datetime.combine(d, time(), self.zone).timestamp()) for d in self.days]
        # The coarsest bucket that every local midnight of the window falls on: a day in
        # UTC, an hour in Paris, a quarter of an hour in Kathmandu. Fewer groups to send.
        self.bucket = gcd(86400, *midnights)
        # The bucket each local day starts at: a day is then a bisection away (thousands
        # of buckets per answer; converting each one's time would cost more than the query).
        self._starts = [m // self.bucket for m in midnights]

    def day_of(self, bucket: int) -> date | None:
        i = bisect_right(self._starts, bucket) - 1
        return self.days[i] if i >= 0 else None


def parse_providers(svc: Services, raw: str | None) -> list[str] | None:
    if not raw:
        return None  # every provider
    known = {p.slug for p in svc.hub.providers()}
    slugs = [p.strip() for p in raw.split(",")]
    for slug in slugs:
        if slug not in known:
            raise validation_error("providers", f"unknown provider {slug!r}; known: {', '.join(sorted(known))}")
    return slugs


def _bucket(svc: Services, column, size: int):
    """The bucket of ``size`` seconds a naive-UTC timestamp column falls in, as an integer."""
    if svc.db.is_sqlite:
        return cast(func.strftime("%s", column), Integer) / size
    return cast(func.floor(func.extract("epoch", column) / size), Integer)


def seconds_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return f"{seconds:.1f}s" if seconds >= 0.1 else f"{seconds * 1000:.0f}ms"


def bytes_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return f"{size}B"


async def metrics(svc: Services, org_id: str, period: str = "week", providers: list[str] | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    if period not in PERIODS:
        raise validation_error("period", f"must be one of {', '.join(PERIODS)}")
    await svc.recorder.flush()  # this process's latest calls count too
    org = await settings_of(svc, org_id)
    window = Window.last(period, ZoneInfo(org.timezone), now or datetime.now(timezone.utc))
    types = {p.slug: p.type for p in svc.hub.providers()}

    def only(column):
        return column.in_(providers) if providers else True

    runs_where = (SyncRun.org_id == org_id, SyncRun.started_at >= window.start, SyncRun.started_at < window.end,
                  SyncRun.dry_run.is_(False), SyncRun.status.in_(FINISHED), only(SyncRun.provider))
    calls_where = (ProviderCall.org_id == org_id, ProviderCall.at >= window.start, ProviderCall.at < window.end,
                   only(ProviderCall.provider))
    sent_where = (DeliveryMessage.org_id == org_id, DeliveryMessage.created_at >= window.start,
                  DeliveryMessage.created_at < window.end, DeliveryMessage.status != "pending",
                  only(DeliveryMessage.provider))
    # Labelled, and grouped by label: PostgreSQL sees an expression with parameters twice
    # as two expressions (each occurrence gets its own $n).
    run_bucket = _bucket(svc, SyncRun.started_at, window.bucket).label("bucket")
    call_bucket = _bucket(svc, ProviderCall.at, window.bucket).label("bucket")
    sent_bucket = _bucket(svc, DeliveryMessage.created_at, window.bucket).label("bucket")
    ok = (SyncRun.status == "completed").label("ok")
    sent = (DeliveryMessage.status == "delivered").label("ok")
    async with svc.db.session() as s:
        integrations = (await s.execute(
            select(Integration.provider, func.count(), func.sum(case((Integration.status == "connected", 1), else_=0)))
            .where(Integration.org_id == org_id, Integration.status != "disconnected", only(Integration.provider))
            .group_by(Integration.provider)
        )).all()
        # One pass over each history, grouped by everything the answer is cut by.
        runs = list((await s.execute(
            select(SyncRun.provider, run_bucket, ok, SyncRun.error_code, func.count())
            .where(*runs_where).group_by(SyncRun.provider, run_bucket, ok, SyncRun.error_code)
        )).all())
        # A message a messaging plugin sent (or gave up on) is its kind of sync.
        runs += (await s.execute(
            select(DeliveryMessage.provider, sent_bucket, sent, DeliveryMessage.error_code, func.count())
            .where(*sent_where).group_by(DeliveryMessage.provider, sent_bucket, sent, DeliveryMessage.error_code)
        )).all()
        calls = (await s.execute(
            select(ProviderCall.provider, call_bucket, func.count(), func.sum(ProviderCall.duration_ms),
                   func.sum(ProviderCall.bytes_in + ProviderCall.bytes_out))
            .where(*calls_where).group_by(ProviderCall.provider, call_bucket)
        )).all()

    by_provider: dict[str, dict[str, Any]] = defaultdict(lambda: {"integrations": 0, "active": 0, "syncs": 0, "errors": 0, "sent": 0,
                                                                   "calls": 0, "ms": 0.0, "bytes": 0})
    volume: dict[date, list[int]] = {d: [0, 0] for d in window.days}
    timing: dict[date, list[float]] = {d: [0, 0.0] for d in window.days}
    codes: Counter[str] = Counter()
    for provider, count, active in integrations:
        by_provider[provider].update(integrations=int(count), active=int(active or 0))
    for provider, bucket, succeeded, code, count in runs:
        p, day, count = by_provider[provider], volume.get(window.day_of(int(bucket))), int(count)
        p["syncs"] += count
        p["sent"] += count if succeeded else 0
        if day is not None:
            day[0] += count
        if not succeeded:
            p["errors"] += count
            codes[code or "SYNC_FAILED"] += count
            if day is not None:
                day[1] += count
    for provider, bucket, count, ms, size in calls:
        p, day = by_provider[provider], timing.get(window.day_of(int(bucket)))
        p["calls"] += int(count)
        p["ms"] += float(ms or 0)
        p["bytes"] += int(size or 0)
        if day is not None:
            day[0] += int(count)
            day[1] += float(ms or 0)

    total_syncs = sum(p["syncs"] for p in by_provider.values())
    total_errors = sum(p["errors"] for p in by_provider.values())
    total_calls = sum(p["calls"] for p in by_provider.values())
    total_ms = sum(p["ms"] for p in by_provider.values())

    def rate(good: int, all_: int) -> float | None:
        return round(good / all_, 4) if all_ else None

    def provider_view(slug: str, p: dict[str, Any]) -> dict[str, Any]:
        out = {
            "integrations": p["integrations"],
            "activeIntegrations": p["active"],
            "syncs": p["syncs"],
            "successRate": rate(p["syncs"] - p["errors"], p["syncs"]),
            "averageResponseTime": seconds_text(p["ms"] / p["calls"] / 1000) if p["calls"] else None,
            "apiCalls": p["calls"],
        }
        if types.get(slug) in MESSAGING:
            out["messagesSent"] = p["sent"]
        else:
            out["dataTransferred"] = bytes_text(p["bytes"])
        return out

    return {
        "period": period,
        "timezone": org.timezone,
        "from": window.start,
        "to": window.end,
        "overview": {
            "totalIntegrations": sum(p["integrations"] for p in by_provider.values()),
            "activeIntegrations": sum(p["active"] for p in by_provider.values()),
            "totalSyncs": total_syncs,
            "successRate": rate(total_syncs - total_errors, total_syncs),
            "averageResponseTime": seconds_text(total_ms / total_calls / 1000) if total_calls else None,
        },
        "byProvider": {slug: provider_view(slug, p) for slug, p in sorted(by_provider.items())},
        "trends": {
            "syncVolume": [{"date": d.isoformat(), "syncs": v[0], "errors": v[1]} for d, v in volume.items()],
            # A day without calls is a zero in the unit the other days use, as issue 9 asks.
            "responseTime": [{"date": d.isoformat(), "averageTime": seconds_text(v[1] / v[0] / 1000 if v[0] else 0.0),
                              "calls": v[0]} for d, v in timing.items()],
        },
        "errors": {
            "totalErrors": total_errors,
            "errorRate": rate(total_errors, total_syncs) or 0.0,
            "commonErrors": [{"error": code, "count": count, "percentage": round(count / total_errors, 4)}
                             for code, count in sorted(codes.items(), key=lambda c: (-c[1], c[0]))],
        },
    }
