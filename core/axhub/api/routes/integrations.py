"""HTTP routes of ``/api/integrations`` (spec: "Gestion des intégrations")."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ..docs import OptionalBody, errors
from ...analytics.views import listed, one_view, owned_view, push_of
from ...auth import Identity, require_role
from ...integrations import connect, manage, service
from ...integrations import schemas as s
from ...runtime.services import Services
from ...types import PROVIDER_TYPES
from ...sync.runs import start_initial

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class IntegrationsController(Controller):
    path = "/api/integrations"
    tags = ["integrations"]

    @get("/", summary="List the organisation's integrations", responses=errors(400, 401, 403))
    async def list_integrations(
        self,
        services: Svc,
        identity: Who,
        provider: Annotated[str | None, QueryParameter(description="google, microsoft, slack, zoom, …")] = None,
        status: Annotated[Literal[service.STATUSES] | None, QueryParameter()] = None,  # type: ignore[valid-type]
        type_: Annotated[Literal[PROVIDER_TYPES] | None, QueryParameter(name="type")] = None,  # type: ignore[valid-type]
    ) -> s.IntegrationList:
        require_role(identity, "manager")
        return s.IntegrationList(data=await listed(services, identity, provider, status, type_))

    @get("/providers", summary="Installed providers, their metadata, and broken or disabled plugins", responses=errors(401))
    async def list_providers(self, services: Svc, identity: Who) -> s.ProviderList:
        return s.ProviderList(data=service.providers(services))

    @get("/{integration_id:str}", summary="One integration", responses=errors(401, 403, 404))
    async def get_integration(self, services: Svc, identity: Who, integration_id: FromPath[str]) -> s.IntegrationResponse:
        require_role(identity, "manager")
        return s.IntegrationResponse(data=await owned_view(services, identity, integration_id))

    @post("/{provider:str}/connect", status_code=200, summary="Start the OAuth connection with a provider",
          operation_class=OptionalBody, responses=errors(400, 401, 403, 404, 502, body=True))
    async def connect(
        self, services: Svc, identity: Who, provider: FromPath[str], data: JSONBody[s.ConnectIn | None] = None
    ) -> s.ConnectResponse:
        require_role(identity, "manager")
        return s.ConnectResponse(data=await connect.connect(services, identity, provider, data or s.ConnectIn()))

    @post("/{provider:str}/callback", status_code=200, summary="Finish the OAuth connection with the provider's code",
          responses=errors(400, 401, 403, 404, 502, body=True))
    async def callback(self, services: Svc, identity: Who, provider: FromPath[str], data: JSONBody[s.CallbackIn]) -> s.CallbackResponse:
        require_role(identity, "manager")
        out, row = await connect.callback(services, identity, provider, data)
        # The first sync, started as the connection is made: its id is in the answer.
        started = await start_initial(services, row)
        if started is not None:
            out.initial_sync = s.InitialSync(status="scheduled", estimated_duration=started["estimatedDuration"],
                                             sync_id=started["syncId"])
        return s.CallbackResponse(data=out)

    @put("/{integration_id:str}/settings", summary="Update an integration's settings", responses=errors(400, 401, 403, 404, body=True))
    async def update_settings(
        self, services: Svc, identity: Who, integration_id: FromPath[str], data: JSONBody[s.SettingsIn]
    ) -> s.IntegrationResponse:
        require_role(identity, "manager")
        row = await manage.update_settings(services, identity, integration_id, data)
        return s.IntegrationResponse(data=await one_view(services, row))

    @delete("/{integration_id:str}", status_code=200, summary="Disconnect an integration", responses=errors(401, 403, 404))
    async def disconnect(self, services: Svc, identity: Who, integration_id: FromPath[str]) -> s.DisconnectResponse:
        require_role(identity, "manager")
        return s.DisconnectResponse(data=await manage.disconnect(services, identity, integration_id))

    @post("/{integration_id:str}/test", status_code=200, summary="Test an integration's connection",
          description="With {\"sendTestMessage\": true}, a notifying integration (Slack, Teams) also posts a "
                      "test message to each channel it names; the answer's testMessage says what became of each.",
          operation_class=OptionalBody, responses=errors(400, 401, 403, 404, body=True))
    async def test(self, services: Svc, identity: Who, integration_id: FromPath[str],
                   data: JSONBody[s.TestIn | None] = None) -> s.TestResponse:
        require_role(identity, "manager")
        out = await manage.test(services, identity, integration_id, data)
        push = await push_of(services, await service.get_owned(services, identity, integration_id))
        if push is None:
            return s.TestResponse(data=out)
        advice = list(out.recommendations)
        if push.mode == "push":
            advice.append(f"Change notifications are active until {push.until.isoformat() if push.until else 'revoked'}"
                          "; they are renewed before they expire")
        elif push.state in ("failing", "expired"):
            advice.append(f"Repair push: {push.reason} (docs/push.md: 'Seeing and repairing a failing subscription')")
        elif push.reason:
            advice.append(f"Polling every syncInterval: {push.reason}")
        return s.TestResponse(data=msgspec.structs.replace(out, push=push, recommendations=advice))
