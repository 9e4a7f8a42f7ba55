"""Routes of an integration's outbound deliveries: ``/api/integrations/{id}/webhooks/…``
(the message log, replay, statistics, endpoint health, the signing secret). Manager+."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ..docs import errors
from ...wire import Meta, PageNumber, PageSize, Wire
from ...analytics.statistics import delivery_statistics, empty_delivery_statistics
from ...auth import Identity, require_role
from ...runtime.services import Services
from ...deliveries import service
from ...deliveries.service import STATUSES, MessageOut, RecoverIn, TargetOut

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class MessageList(Wire, kw_only=True):
    success: bool = True
    data: list[MessageOut]
    meta: Meta


class MessageResponse(Wire, kw_only=True):
    success: bool = True
    data: MessageOut


class Recovered(Wire):
    recovered: int
    since: datetime


class RecoverResponse(Wire, kw_only=True):
    success: bool = True
    data: Recovered


class Payload(Wire, kw_only=True):
    success: bool = True
    data: dict[str, Any]


class TargetList(Wire, kw_only=True):
    success: bool = True
    data: list[TargetOut]


class TargetResponse(Wire, kw_only=True):
    success: bool = True
    data: TargetOut


class DeliveriesController(Controller):
    path = "/api/integrations/{integration_id:str}/webhooks"
    tags = ["webhooks"]

    @get("/messages", summary="The integration's outbound messages, newest first", responses=errors(400, 401, 403, 404))
    async def list_messages(
        self, services: Svc, identity: Who, integration_id: FromPath[str],
        status: Annotated[Literal[STATUSES] | None, QueryParameter()] = None,  # type: ignore[valid-type]
        kind: Annotated[str | None, QueryParameter(description="eventCreated, attendanceUpdated, …")] = None,
        page: PageNumber = 1,
        limit: PageSize = 50,
    ) -> MessageList:
        require_role(identity, "manager")
        data, meta = await service.messages(services, identity, integration_id, status, kind, page, limit)
        return MessageList(data=data, meta=meta)

    @get("/messages/{message_id:str}", summary="One message, its payload and every attempt", responses=errors(401, 403, 404))
    async def get_message(self, services: Svc, identity: Who, integration_id: FromPath[str], message_id: FromPath[str]) -> MessageResponse:
        require_role(identity, "manager")
        return MessageResponse(data=await service.message(services, identity, integration_id, message_id))

    @post("/messages/{message_id:str}/resend", status_code=202, summary="Send a delivered or failed message again",
          responses=errors(401, 403, 404, 409))
    async def resend(self, services: Svc, identity: Who, integration_id: FromPath[str], message_id: FromPath[str]) -> MessageResponse:
        require_role(identity, "manager")
        return MessageResponse(data=await service.resend(services, identity, integration_id, message_id))

    @post("/recover", status_code=202, summary="Send again every failed message created since a time",
          responses=errors(400, 401, 403, 404, body=True))
    async def recover(self, services: Svc, identity: Who, integration_id: FromPath[str], data: JSONBody[RecoverIn]) -> RecoverResponse:
        require_role(identity, "manager")
        count = await service.recover(services, identity, integration_id, data.since, data.until)
        return RecoverResponse(data=Recovered(recovered=count, since=data.since))

    @get("/stats", summary="Delivery statistics", responses=errors(401, 403, 404))
    async def stats(self, services: Svc, identity: Who, integration_id: FromPath[str]) -> Payload:
        require_role(identity, "manager")
        row = await service.owned(services, identity, integration_id)
        figures = await delivery_statistics(services, [row.id])
        return Payload(data=figures.get(row.id, empty_delivery_statistics()))

    @get("/endpoints", summary="Health of each endpoint that failed at least once", responses=errors(401, 403, 404))
    async def endpoints(self, services: Svc, identity: Who, integration_id: FromPath[str]) -> TargetList:
        require_role(identity, "manager")
        return TargetList(data=await service.targets(services, identity, integration_id))

    @post("/endpoints/{target:str}/enable", status_code=200, summary="Re-enable an endpoint the hub disabled",
          responses=errors(401, 403, 404))
    async def enable(self, services: Svc, identity: Who, integration_id: FromPath[str], target: FromPath[str]) -> TargetResponse:
        require_role(identity, "manager")
        return TargetResponse(data=await service.enable_target(services, identity, integration_id, target))

    @post("/secret/rotate", status_code=200, summary="A new signing secret (shown once); the old one signs beside it for a while",
          responses=errors(401, 403, 404))
    async def rotate(self, services: Svc, identity: Who, integration_id: FromPath[str]) -> Payload:
        require_role(identity, "manager")
        secret, until = await service.rotate_secret(services, identity, integration_id)
        return Payload(data={"signingSecret": secret, "previousSecretValidUntil": until.isoformat()})
