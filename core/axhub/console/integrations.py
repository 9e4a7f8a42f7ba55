"""The integrations list and the connection: filters as the API's, a connect button per
installed provider that runs the real OAuth flow and comes back here."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from ..analytics.views import views
from ..integrations import connect, service
from ..integrations import schemas as s
from ..errors import ApiError
from ..sync.runs import start_initial
from ..types import PROVIDER_TYPES
from .web import form, render, see_other, services, viewer


def health(view: s.IntegrationOut) -> str:
    """The integration's health in a word: what its status and last error say."""
    if view.status == "disconnected":
        return "disconnected"
    if view.status == "error":
        return "failing"
    return "degraded" if view.last_error is not None else "healthy"


def _blank(value: str | None) -> str | None:
    return value or None  # an empty <select> choice is no filter


@get("/console/integrations", include_in_schema=False)
async def integrations_page(request: Request) -> Template:
    who = viewer(request)
    svc = services(request)
    q = request.query_params
    filters = {"provider": _blank(q.get("provider")), "status": _blank(q.get("status")), "type": _blank(q.get("type"))}
    error = None
    try:
        rows = await service.list_rows(svc, who, filters["provider"], filters["status"], filters["type"])
    except ApiError as exc:
        rows, error = [], exc
    items = await views(svc, rows)
    return render(request, "integrations.html", who=who, items=[(v, health(v)) for v in items], filters=filters,
                  error=error, providers=service.providers(svc), statuses=service.STATUSES, types=PROVIDER_TYPES,
                  status=400 if error else 200)


def return_uri(request: Request, slug: str) -> str:
    # Back to the origin the browser uses, so its session cookie comes along.
    return f"{str(request.base_url).rstrip('/')}/console/oauth/{slug}/callback"


@post("/console/integrations/connect/{provider:str}", include_in_schema=False)
async def start_connect(request: Request, provider: FromPath[str]) -> Redirect | Template:
    who = viewer(request)
    await form(request)
    svc = services(request)
    out = await connect.connect(svc, who, provider, s.ConnectIn(redirect_uri=return_uri(request, provider)))
    if out.auth_url:
        return see_other(out.auth_url)  # the provider's consent page (in sandbox mode, the sandbox's)
    # A provider without OAuth (outbound webhooks) is connected at once; its secret is shown once, here.
    return render(request, "connected.html", who=who, out=out)


@get("/console/oauth/{provider:str}/callback", include_in_schema=False)
async def oauth_return(request: Request, provider: FromPath[str]) -> Template:
    """Where the provider sends the browser back. A provider on another site does not
    bring the SameSite=Strict cookie along, so this page posts code and state to the
    console itself (a same-site request that does carry it)."""
    q = request.query_params
    return render(request, "oauth_return.html", provider=provider, code=q.get("code"), state=q.get("state"),
                  error=q.get("error_description") or q.get("error"))


@post("/console/oauth/{provider:str}/callback", include_in_schema=False)
async def finish_connect(request: Request, provider: FromPath[str]) -> Redirect:
    who = viewer(request)
    data = await form(request)
    svc = services(request)
    body = s.CallbackIn(code=data.get("code", ""), state=data.get("state", ""))
    _, row = await connect.callback(svc, who, provider, body)
    started = await start_initial(svc, row)
    suffix = f"?run={started['syncId']}#progress" if started else ""
    return see_other(f"/console/integrations/{row.id}{suffix}")
