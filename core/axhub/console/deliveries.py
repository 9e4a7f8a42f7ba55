"""An integration's deliveries: the messages log (webhooks, Slack, Teams) with each
attempt's status code and timing, resend one, replay a time range, rotate the webhook
signing secret; each through :mod:`axhub.deliveries.service`, as the API's routes."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ..analytics.views import one_view
from ..deliveries import service
from ..errors import ApiError
from ..integrations.service import get_owned
from ..validation import strict
from .integration import instant
from .web import form, render, see_other, services, viewer


async def page(request: Request, integration_id: str, *, status: int = 200, **extra: Any) -> Template:
    who = viewer(request)
    svc = services(request)
    view = await one_view(svc, await get_owned(svc, who, integration_id))
    q = request.query_params
    filters = {"status": q.get("status") or None, "kind": q.get("kind") or None}
    error = None
    try:
        number = int(q.get("page") or 1)
        messages, meta = await service.messages(svc, who, integration_id, filters["status"], filters["kind"], number, 20)
    except ValueError:
        messages, meta, error = [], None, ApiError("VALIDATION_ERROR", "page: must be a whole number", field="page")
    except ApiError as exc:
        if exc.code == "INTEGRATION_NOT_FOUND":
            raise
        messages, meta, error = [], None, exc
    signing = "signing" in svc.hub.provider(view.provider).capabilities
    return render(request, "deliveries.html", who=who, status=error.status if error and status == 200 else status,
                  view=view, messages=messages, meta=meta, filters=filters, error=error, signing=signing,
                  statuses=service.STATUSES, resent=q.get("resent"), **extra)


@get("/console/integrations/{integration_id:str}/deliveries", include_in_schema=False)
async def deliveries_page(request: Request, integration_id: FromPath[str]) -> Template:
    return await page(request, integration_id)


@get("/console/integrations/{integration_id:str}/deliveries/{message_id:str}", include_in_schema=False)
async def message_page(request: Request, integration_id: FromPath[str], message_id: FromPath[str]) -> Template:
    who = viewer(request)
    message = await service.message(services(request), who, integration_id, message_id)
    return render(request, "message.html", who=who, integration_id=integration_id, m=message)


@post("/console/integrations/{integration_id:str}/deliveries/{message_id:str}/resend", include_in_schema=False)
async def resend(request: Request, integration_id: FromPath[str], message_id: FromPath[str]) -> Redirect:
    who = viewer(request)
    await form(request)
    await service.resend(services(request), who, integration_id, message_id)
    return see_other(f"/console/integrations/{integration_id}/deliveries?resent={message_id}")


@post("/console/integrations/{integration_id:str}/deliveries/replay", include_in_schema=False)
async def replay(request: Request, integration_id: FromPath[str]) -> Template:
    """Send again every failed message created in a time range (form times without an offset are UTC)."""
    who = viewer(request)
    data = await form(request)
    body: dict[str, Any] = {"since": instant(data.get("since", ""))}
    if data.get("until", "").strip():
        body["until"] = instant(data["until"])
    try:
        range_ = strict(body, service.RecoverIn)
        count = await service.recover(services(request), who, integration_id, range_.since, range_.until)
    except ApiError as exc:
        if exc.code == "INTEGRATION_NOT_FOUND":
            raise
        return await page(request, integration_id, status=exc.status, replay_error=exc, replay_form=data)
    return await page(request, integration_id, replayed=count, replay_form=data)


@post("/console/integrations/{integration_id:str}/deliveries/rotate-secret", include_in_schema=False)
async def rotate_secret(request: Request, integration_id: FromPath[str]) -> Template:
    who = viewer(request)
    await form(request)
    secret, until = await service.rotate_secret(services(request), who, integration_id)
    return await page(request, integration_id, new_secret=secret, previous_until=until)
