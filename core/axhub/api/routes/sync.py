"""HTTP routes of the spec's "Synchronisation" section."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ..docs import errors
from ...wire import Wire
from ...auth import Identity, require_role
from ...integrations.service import get_owned
from ...runtime.services import Services
from ...sync import history, runs
from ...sync.options import SyncIn

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class SyncStarted(Wire, kw_only=True):
    success: bool = True
    data: dict[str, Any]


class SyncStatus(Wire, kw_only=True):
    success: bool = True
    data: dict[str, Any]


class SyncHistory(Wire, kw_only=True):
    success: bool = True
    data: list[dict[str, Any]]
    meta: dict[str, int]


class SyncController(Controller):
    path = "/api/integrations"
    tags = ["synchronisation"]

    @post("/{integration_id:str}/sync", status_code=202, summary="Start a manual synchronisation",
          responses=errors(400, 401, 403, 404, 409))
    async def start(self, services: Svc, identity: Who, integration_id: FromPath[str],
                    data: JSONBody[SyncIn | None] = None) -> SyncStarted:
        require_role(identity, "manager")
        row = await get_owned(services, identity, integration_id)
        started = await runs.start(services, row, data or SyncIn(), type_="manual",
                                   triggered_by={"userId": identity.user_id, "name": identity.name})
        return SyncStarted(data=started)

    @get("/{integration_id:str}/sync/{sync_id:str}/status", summary="A synchronisation's live status",
         responses=errors(401, 403, 404))
    async def status(self, services: Svc, identity: Who, integration_id: FromPath[str], sync_id: FromPath[str]) -> SyncStatus:
        require_role(identity, "manager")
        return SyncStatus(data=history.run_view(await history.get_run(services, identity, integration_id, sync_id)))

    @get("/{integration_id:str}/history", summary="Synchronisation history", responses=errors(400, 401, 403, 404))
    async def history(
        self,
        services: Svc,
        identity: Who,
        integration_id: FromPath[str],
        limit: Annotated[int, QueryParameter(description="entries per page (default 50)")] = 50,
        page: Annotated[int, QueryParameter()] = 1,
        status: Annotated[str | None, QueryParameter(description="success, error, partial (or the live status's completed, failed; started, running)")] = None,
        start_date: Annotated[str | None, QueryParameter(name="startDate")] = None,
        end_date: Annotated[str | None, QueryParameter(name="endDate")] = None,
    ) -> SyncHistory:
        require_role(identity, "manager")
        row = await get_owned(services, identity, integration_id)
        data, meta = await history.history(services, row.id, limit=limit, page=page, status=status, start=start_date, end=end_date)
        return SyncHistory(data=data, meta=meta)
