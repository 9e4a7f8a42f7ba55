"""The spec's "Analytics des intégrations" route. Admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from ..docs import errors
from ...wire import Wire
from ...auth import Identity, require_role
from ...runtime.services import Services
from ...analytics import service

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Period = Literal["day", "week", "month", "quarter"]
Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class Overview(Wire, kw_only=True):
    total_integrations: int
    active_integrations: int
    total_syncs: int
    success_rate: float | None  # null: nothing ran in the period
    average_response_time: str | None


class ProviderMetrics(Wire, kw_only=True):
    integrations: int
    active_integrations: int
    syncs: int
    success_rate: float | None
    average_response_time: str | None
    api_calls: int
    data_transferred: str | msgspec.UnsetType = msgspec.UNSET  # calendar and video providers
    messages_sent: int | msgspec.UnsetType = msgspec.UNSET  # messaging providers


class SyncVolume(Wire, kw_only=True):
    date: str
    syncs: int
    errors: int


class ResponseTime(Wire, kw_only=True):
    date: str
    average_time: str
    calls: int


class Trends(Wire, kw_only=True):
    sync_volume: list[SyncVolume]
    response_time: list[ResponseTime]


class CommonError(Wire, kw_only=True):
    error: str
    count: int
    percentage: float


class ErrorMetrics(Wire, kw_only=True):
    total_errors: int
    error_rate: float
    common_errors: list[CommonError]


class MetricsOut(Wire, kw_only=True, rename=lambda name: "from" if name == "from_" else _camel(name)):
    period: Period
    timezone: str
    from_: datetime
    to: datetime
    overview: Overview
    by_provider: dict[str, ProviderMetrics]
    trends: Trends
    errors: ErrorMetrics


class Metrics(Wire, kw_only=True):
    success: bool = True
    data: MetricsOut


class AnalyticsController(Controller):
    path = "/api/integrations/analytics"
    tags = ["analytics"]

    @get("/metrics", summary="Usage and health of the organisation's integrations", responses=errors(400, 401, 403))
    async def metrics(
        self,
        services: Svc,
        identity: Who,
        period: Annotated[Period, QueryParameter(description="day, week, month or quarter")] = "week",
        providers: Annotated[str | None, QueryParameter(description="provider slugs, comma-separated")] = None,
    ) -> Metrics:
        require_role(identity, "admin")
        slugs = service.parse_providers(services, providers)
        return Metrics(data=msgspec.convert(await service.metrics(services, identity.org_id, period, slugs), MetricsOut))
