"""The Litestar app, assembled in one place: routes, dependencies, error map, OpenAPI,
lifespan, and the providers' sandboxes when the hub runs in sandbox mode."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, asgi
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_405_METHOD_NOT_ALLOWED, HTTP_413_REQUEST_ENTITY_TOO_LARGE

from ..auth import Identity, verify_token
from ..config import Config
from .. import console
from ..errors import ApiError
from ..plugins import Hub, PluginManager
from ..runtime.services import Services
from ..sandbox.persist import SandboxState
from ..sync.lock import close_orphans
from ..validation import field_of
from .guards import MAX_BODY, before_request
from .oauth_return import oauth_return
from .openapi import ClosedStructs, openapi_config, refine
from .schema_viewer import assets
from .routes.analytics import AnalyticsController
from .routes.deliveries import DeliveriesController
from .routes.events import EventsController
from .routes.hooks import handlers as hook_handlers
from ..push.receive import MAX_BODY as HOOK_BODY
from .routes.integrations import IntegrationsController
from .routes.organizations import OrganizationController
from .routes.sync import SyncController
from .wiring import build_services

log = logging.getLogger("axhub.api")


def _envelope(exc: ApiError) -> Response:
    return Response(content=exc.body(), status_code=exc.status, headers=exc.headers)


def _api_error(_: Request, exc: ApiError) -> Response:
    return _envelope(exc)


def _wire_name(request: Request, key: Any) -> Any:
    """A parameter's name as the caller wrote it (``type``), not the handler's (``type_``)."""
    handler = request.scope.get("route_handler")
    field = handler.parsed_fn_signature.parameters.get(key) if handler is not None and isinstance(key, str) else None
    return getattr(getattr(field, "kwarg_definition", None), "name", None) or key


def _validation(request: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) else []
    if extra and isinstance(extra[0], dict):
        item = extra[0]
        key, message = _wire_name(request, item.get("key")), str(item.get("message") or exc.detail)
        # msgspec's message may say where below the key ("- at `$.x`", "field `x`").
        prefix = str(key) if key and key not in ("body", "data") else ""
        field, message = field_of(Exception(message), prefix)
        if "malformed" in message.lower() or "invalid json" in message.lower():
            field = "body"
        return _envelope(ApiError("VALIDATION_ERROR", f"{field}: {message}", field=field))
    return _envelope(ApiError("VALIDATION_ERROR", str(exc.detail)))


def _http(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotFoundException):
        return _envelope(ApiError("NOT_FOUND", "no such route"))
    if isinstance(exc, NotAuthorizedException):
        return _envelope(ApiError("UNAUTHORIZED", str(exc.detail)))
    if exc.status_code == HTTP_405_METHOD_NOT_ALLOWED:
        return _envelope(ApiError("METHOD_NOT_ALLOWED", str(exc.detail), headers=exc.headers))
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = f"{HOOK_BODY // 1024} KiB" if request.url.path.startswith("/hooks/") else f"{MAX_BODY // 1024 // 1024} MiB"
        return _envelope(ApiError("PAYLOAD_TOO_LARGE", f"the request body is over {limit}"))
    if exc.status_code < 500:
        # Litestar's own client errors (a bad Content-Length, …): the caller's fault.
        return _envelope(ApiError("VALIDATION_ERROR", str(exc.detail), status=exc.status_code, headers=exc.headers))
    return _envelope(ApiError("INTERNAL_ERROR", str(exc.detail), status=exc.status_code))


def _internal(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _envelope(ApiError("INTERNAL_ERROR", "internal error; see the hub's log"))


def create_app(config: Config | None = None, *, plugins: PluginManager | None = None, services: Services | None = None) -> Litestar:
    config = config or Config.from_env()
    svc = services or build_services(config, plugins)

    async def provide_services() -> Services:
        return svc

    # The identity depends on the services (which it does not need) so that Litestar
    # resolves the two one after the other: dependencies of the same rank are resolved
    # in a task group, two tasks spawned for every request.
    async def provide_identity(request: Request, services: NamedDependency[Services]) -> Identity:
        return verify_token(svc.config.jwt_secret, request.headers.get("authorization"))

    @asynccontextmanager
    async def lifespan(app: Litestar):
        if svc.config.auto_migrate:
            await svc.db.upgrade()
        for record in svc.plugins.records.values():
            if record.status == "broken":
                log.error("plugin %s is broken: %s", record.name, record.error)
        # Runs a killed process left are closed before anything else starts a sync.
        await close_orphans(svc)
        if svc.config.env.get("AXHUB_DELIVERY_WORKER", "1").lower() not in ("0", "false", "no", "off"):
            svc.worker.start()
        await svc.scheduler.start()
        try:
            yield
        finally:
            for state in sandbox_states:  # what the last writes changed, before the process goes
                state.save()
            await svc.aclose()

    route_handlers: list[Any] = [IntegrationsController, SyncController, EventsController, DeliveriesController,
                                 AnalyticsController, OrganizationController, oauth_return, assets(), *console.handlers(),
                                 *hook_handlers]
    sandbox_states: list[SandboxState] = []
    if config.sandbox and not config.sandbox_url:
        route_handlers.extend(sandbox_mounts(svc.hub, sandbox_states))

    app = Litestar(
        route_handlers=route_handlers,
        dependencies={"services": Provide(provide_services), "identity": Provide(provide_identity)},
        exception_handlers={
            ApiError: _api_error,
            ValidationException: _validation,
            HTTPException: _http,
            Exception: _internal,
        },
        before_request=before_request,
        request_max_body_size=MAX_BODY,
        lifespan=[lifespan],
        state=State({"services": svc}),
        openapi_config=openapi_config(),
        template_config=console.template_config(),
        plugins=[ClosedStructs()],
        # Logging is the host's to configure (``axhub serve`` does); Litestar's default
        # would take over the root logger of whatever process embeds the app.
        logging_config=None,
        debug=False,
    )
    # Built once, here, and served as refined.
    refine(app.openapi_schema, svc.hub.providers(), (svc.config.sync_interval_min, svc.config.sync_interval_max))
    return app


def sandbox_mounts(hub: Hub, states: list[SandboxState], prefix: str = "/sandbox") -> list[Any]:
    """Each installed provider's sandbox, mounted at ``{prefix}/{slug}``, its state kept
    in the data folder (``sandboxes/{slug}.pickle``) and listed in ``states`` for the
    final save."""
    mounts = []
    for slug, factory in hub.sandboxes():
        sandbox = factory()
        state = sandbox.state.get("sandbox_state")
        if isinstance(state, SandboxState):
            state.attach(hub.config.data_dir / "sandboxes" / f"{slug}.pickle")
            states.append(state)
        mounts.append(asgi(f"{prefix}/{slug}", is_mount=True, copy_scope=True, include_in_schema=False,
                           name=f"sandbox-{slug}")(sandbox))
    return mounts


def sandbox_app(config: Config) -> Litestar:
    """Only the sandboxes (``axhub sandbox``): a stand-in for every provider at once."""
    plugins = PluginManager(config)
    states: list[SandboxState] = []
    handlers = sandbox_mounts(Hub(config, plugins, sandbox_base=""), states, prefix="")

    async def save_all(_: Litestar) -> None:
        for state in states:
            state.save()

    return Litestar(route_handlers=handlers, on_shutdown=[save_all], openapi_config=None, logging_config=None)
