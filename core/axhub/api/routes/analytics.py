"""The spec's "Analytics des intégrations" route. Admin only."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from ..docs import errors
from ...wire import Wire
from ...auth import Identity, require_role
from ...runtime.services import Services
from ...analytics import service

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class Metrics(Wire, kw_only=True):
    success: bool = True
    data: dict[str, Any]


class AnalyticsController(Controller):
    path = "/api/integrations/analytics"
    tags = ["analytics"]

    @get("/metrics", summary="Usage and health of the organisation's integrations", responses=errors(400, 401, 403))
    async def metrics(
        self,
        services: Svc,
        identity: Who,
        period: Annotated[str, QueryParameter(description="day, week, month or quarter")] = "week",
        providers: Annotated[str | None, QueryParameter(description="provider slugs, comma-separated")] = None,
    ) -> Metrics:
        require_role(identity, "admin")
        slugs = service.parse_providers(services, providers)
        return Metrics(data=await service.metrics(services, identity.org_id, period, slugs))
