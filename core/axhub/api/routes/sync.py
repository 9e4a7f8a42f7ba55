"""HTTP routes of the spec's "Synchronisation" section."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ..docs import OptionalBody, errors
from .sync_types import RunOut, SyncHistory, SyncStarted, SyncStartedOut, SyncStatus, typed
from ...wire import DATE_OR_DATE_TIME, Meta, PageNumber, PageSize
from ...auth import Identity, require_role
from ...integrations.service import get_owned
from ...runtime.services import Services
from ...sync import history, runs
from ...sync.options import SyncIn

HistoryStatus = Literal[tuple(history.STATUS_FILTER)]  # type: ignore[valid-type]
Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class SyncController(Controller):
    path = "/api/integrations"
    tags = ["synchronisation"]

    @post("/{integration_id:str}/sync", status_code=202, summary="Start a manual synchronisation",
          operation_class=OptionalBody, responses=errors(400, 401, 403, 404, 409, body=True))
    async def start(self, services: Svc, identity: Who, integration_id: FromPath[str],
                    data: JSONBody[SyncIn | None] = None) -> SyncStarted:
        require_role(identity, "manager")
        row = await get_owned(services, identity, integration_id)
        started = await runs.start(services, row, data or SyncIn(), type_="manual",
                                   triggered_by={"userId": identity.user_id, "name": identity.name})
        return SyncStarted(data=typed(started, SyncStartedOut))

    @get("/{integration_id:str}/sync/{sync_id:str}/status", summary="A synchronisation's live status",
         responses=errors(401, 403, 404))
    async def status(self, services: Svc, identity: Who, integration_id: FromPath[str], sync_id: FromPath[str]) -> SyncStatus:
        require_role(identity, "manager")
        return SyncStatus(data=typed(history.run_view(await history.get_run(services, identity, integration_id, sync_id)), RunOut))

    @get("/{integration_id:str}/history", summary="Synchronisation history", responses=errors(400, 401, 403, 404))
    async def history(
        self,
        services: Svc,
        identity: Who,
        integration_id: FromPath[str],
        limit: PageSize = 50,
        page: PageNumber = 1,
        status: Annotated[HistoryStatus | None, QueryParameter(description="success (or completed), error (or failed), partial, started, running")] = None,
        start_date: Annotated[str | None, QueryParameter(name="startDate", schema_extra=DATE_OR_DATE_TIME)] = None,
        end_date: Annotated[str | None, QueryParameter(name="endDate", schema_extra=DATE_OR_DATE_TIME,
                                                       description="a bare date means the whole day")] = None,
    ) -> SyncHistory:
        require_role(identity, "manager")
        row = await get_owned(services, identity, integration_id)
        data, meta = await history.history(services, row.id, limit=limit, page=page, status=status, start=start_date, end=end_date)
        return SyncHistory(data=typed(data, list[RunOut]), meta=typed(meta, Meta))
