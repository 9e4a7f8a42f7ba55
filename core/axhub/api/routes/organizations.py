"""``/api/organization/settings``: read by any member, changed by an admin."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from ..docs import errors
from ...wire import Wire
from ...auth import Identity, require_role
from ...runtime.services import Services
from ...organizations import service
from ...organizations.service import OrganizationSettings

Svc = NamedDependency[Services]
Who = NamedDependency[Identity]


class SettingsOut(Wire, kw_only=True):
    success: bool = True
    data: OrganizationSettings


class OrganizationController(Controller):
    path = "/api/organization"
    tags = ["organisation"]

    @get("/settings", summary="The organisation's time zone, locale and alert threshold", responses=errors(401))
    async def read(self, services: Svc, identity: Who) -> SettingsOut:
        return SettingsOut(data=await service.settings_of(services, identity.org_id))

    @put("/settings", summary="Change the organisation's time zone, locale and alert threshold", responses=errors(400, 401, 403, body=True))
    async def change(self, services: Svc, identity: Who, data: JSONBody[OrganizationSettings]) -> SettingsOut:
        require_role(identity, "admin")
        return SettingsOut(data=await service.change(services, identity.org_id, data))
