"""HTTP routes of ``/api/events``: members read, managers and admins write."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ..docs import errors
from ...wire import DATE_TIME, PageNumber, PageSize
from ...auth import Identity, require_role
from ...runtime.services import Services
from ...events import schemas as s
from ...events import service

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class EventsController(Controller):
    path = "/api/events"
    tags = ["events"]

    @get("/", summary="List events (overlapping a date range, of a type)", responses=errors(400, 401))
    async def list_events(
        self,
        services: Svc,
        identity: Who,
        start: Annotated[str | None, QueryParameter(description="ISO 8601; events ending after it", schema_extra=DATE_TIME)] = None,
        end: Annotated[str | None, QueryParameter(description="ISO 8601; events starting before it", schema_extra=DATE_TIME)] = None,
        type_: Annotated[str | None, QueryParameter(name="type")] = None,
        page: PageNumber = 1,
        limit: PageSize = 50,
    ) -> s.EventList:
        data, meta = await service.list_events(services, identity, start, end, type_, page, limit)
        return s.EventList(data=data, meta=meta)

    @post("/", status_code=201, summary="Create an event", responses=errors(400, 401, 403, body=True))
    async def create(self, services: Svc, identity: Who, data: JSONBody[s.EventIn]) -> s.EventResponse:
        require_role(identity, "manager")
        return s.EventResponse(data=await service.create(services, identity, data))

    @get("/{event_id:str}", summary="One event", responses=errors(401, 404))
    async def get_event(self, services: Svc, identity: Who, event_id: FromPath[str]) -> s.EventResponse:
        return s.EventResponse(data=service.view(await service.get_owned(services, identity, event_id)))

    @patch("/{event_id:str}", summary="Change some of an event's fields", responses=errors(400, 401, 403, 404, body=True))
    async def patch_event(self, services: Svc, identity: Who, event_id: FromPath[str], data: JSONBody[s.EventPatch]) -> s.EventResponse:
        require_role(identity, "manager")
        return s.EventResponse(data=await service.update_event(services, identity, event_id, data))

    @put("/{event_id:str}", summary="Update an event (fields not given are kept)", responses=errors(400, 401, 403, 404, body=True))
    async def put_event(self, services: Svc, identity: Who, event_id: FromPath[str], data: JSONBody[s.EventPatch]) -> s.EventResponse:
        require_role(identity, "manager")
        return s.EventResponse(data=await service.update_event(services, identity, event_id, data))

    @delete("/{event_id:str}", status_code=200, summary="Delete an event", responses=errors(401, 403, 404))
    async def delete_event(self, services: Svc, identity: Who, event_id: FromPath[str]) -> s.DeletedResponse:
        require_role(identity, "manager")
        return s.DeletedResponse(data=await service.delete_event(services, identity, event_id))

    @get("/{event_id:str}/attendance", summary="Attendance per attendee", responses=errors(401, 404))
    async def get_attendance(self, services: Svc, identity: Who, event_id: FromPath[str]) -> s.AttendanceResponse:
        return s.AttendanceResponse(data=await service.attendance(services, identity, event_id))

    @put("/{event_id:str}/attendance", summary="Record attendance", responses=errors(400, 401, 403, 404, body=True))
    async def put_attendance(
        self, services: Svc, identity: Who, event_id: FromPath[str], data: JSONBody[s.AttendanceUpdate]
    ) -> s.AttendanceResponse:
        require_role(identity, "manager")
        return s.AttendanceResponse(data=await service.record_attendance(services, identity, event_id, data))
