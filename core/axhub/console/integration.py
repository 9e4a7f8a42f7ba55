"""One integration: its settings form, the connection test, "sync now" with a live
progress bar, the history, and the disconnect. Each form is turned into the body the
API's route takes, held to the same declared type (:func:`axhub.validation.strict`)
and handed to the same domain function, so both refuse the same input the same way."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from ..analytics.views import one_view
from ..errors import ApiError, validation_error
from ..integrations import manage, service
from ..integrations import schemas as s
from ..integrations.rules import TOP_LEVEL_SETTINGS
from ..sync import history, runs
from ..sync.options import DIRECTIONS, SCOPES, SyncIn
from ..validation import strict
from .integrations import health
from .web import HEADERS, form, render, see_other, services, viewer

TOP = tuple(TOP_LEVEL_SETTINGS.values())  # syncDirection, autoSync, syncInterval: inputs of their own
# The switches of ``notifications`` (PUT /settings), each a checkbox of the form.
NOTIFICATION_SWITCHES = (("syncErrors", "Report failed syncs"), ("syncSuccess", "Report successful syncs"),
                         ("weeklyReport", "Send a weekly report"))
_INT = re.compile(r"^-?\d+$")


def _top_fields(svc, provider: str) -> list[str]:
    fields = {f.encode_name for f in msgspec.structs.fields(svc.hub.provider(provider).settings_type)}
    return [k for k in TOP if k in fields]


async def page(request: Request, integration_id: str, *, status: int = 200, **extra: Any) -> Template:
    who = viewer(request)
    svc = services(request)
    row = await service.get_owned(svc, who, integration_id)
    view = await one_view(svc, row)
    q = request.query_params
    filters = {k: q.get(k) or None for k in ("status", "startDate", "endDate")}
    try:
        number = int(q.get("page") or 1)
    except ValueError:
        number = 0  # refused by history() below, as the API refuses it
    history_error = None
    try:
        runs_, meta = await history.history(svc, row.id, limit=10, page=number, status=filters["status"],
                                            start=filters["startDate"], end=filters["endDate"])
    except ApiError as exc:
        runs_, meta, history_error = [], {"page": 1, "totalPages": 0, "total": 0}, exc
    top = _top_fields(svc, row.provider)
    rest = {k: v for k, v in view.settings.items() if k not in top}
    context = {
        "view": view, "health": health(view), "top": top, "directions": DIRECTIONS, "scopes": SCOPES,
        "settings_json": msgspec.json.format(msgspec.json.encode(rest), indent=2).decode(),
        "runs": runs_, "meta": meta, "filters": filters, "history_error": history_error,
        "run": q.get("run"), "syncs": svc.hub.implements(row.provider, "sync"),
        "deliveries": bool(view.statistics.deliveries is not msgspec.UNSET or view.type in ("webhook", "messaging")),
        "errors": {}, "form": {}, "saved": bool(q.get("saved")), "notification_switches": NOTIFICATION_SWITCHES,
        "notifications": msgspec.to_builtins(view.notifications),
    }
    context.update(extra)
    if history_error is not None and status == 200:
        status = history_error.status  # a bad filter is the caller's, as in the API
    return render(request, "integration.html", who=who, status=status, **context)


@get("/console/integrations/{integration_id:str}", include_in_schema=False)
async def integration_page(request: Request, integration_id: FromPath[str]) -> Template:
    return await page(request, integration_id)


def settings_body(data: dict[str, str], top: list[str]) -> dict[str, Any]:
    """The ``PUT /settings`` body a settings form stands for (a typed value left as
    text when it is not one, for the body's type check to refuse with its field)."""
    body: dict[str, Any] = {}
    if "syncDirection" in top:
        body["syncDirection"] = data.get("syncDirection", "")
    if "autoSync" in top:
        body["autoSync"] = data.get("autoSync") == "on"  # an unticked box is not posted
    if "syncInterval" in top:
        raw = data.get("syncInterval", "").strip()
        body["syncInterval"] = int(raw) if _INT.match(raw) else raw
    # Every switch is on the form, so each is given: an unticked box (not posted) is off.
    body["notifications"] = {key: data.get(key) == "on" for key, _ in NOTIFICATION_SWITCHES}
    raw = data.get("settings", "").strip()
    if raw:
        try:
            settings = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise validation_error("settings", "is not JSON: write the settings as a JSON object") from None
        if not isinstance(settings, dict):
            raise validation_error("settings", "must be a JSON object")
        body["settings"] = settings
    return body


def _field(field: str | None, known: list[str]) -> str:
    """Which input an error belongs beside."""
    head = (field or "").split(".", 1)[0].split("[", 1)[0]
    return head if head in known else "settings" if head == "settings" else "form"


@post("/console/integrations/{integration_id:str}/settings", include_in_schema=False)
async def save_settings(request: Request, integration_id: FromPath[str]) -> Redirect | Template:
    who = viewer(request)
    data = await form(request)
    svc = services(request)
    row = await service.get_owned(svc, who, integration_id)
    top = _top_fields(svc, row.provider)
    try:
        body = strict(settings_body(data, top), s.SettingsIn)
        await manage.update_settings(svc, who, integration_id, body)
    except ApiError as exc:
        return await page(request, integration_id, status=exc.status, form=data,
                          errors={_field(exc.field, top): exc}, settings_json=data.get("settings", ""))
    return see_other(f"/console/integrations/{integration_id}?saved=1#settings")


@post("/console/integrations/{integration_id:str}/test", include_in_schema=False)
async def test_connection(request: Request, integration_id: FromPath[str]) -> Template:
    who = viewer(request)
    data = await form(request)
    result = await manage.test(services(request), who, integration_id,
                               strict({"sendTestMessage": data.get("sendTestMessage") == "on"}, s.TestIn))
    return await page(request, integration_id, test=result)


def instant(value: str) -> str:
    """A form's time as the API takes it: a browser's ``datetime-local`` has no offset,
    and the console's forms say their times are UTC."""
    value = value.strip()
    if not value or re.search(r"(Z|[+-]\d\d:\d\d)$", value):
        return value
    return value + (":00" if value.count(":") == 1 else "") + "Z"


def sync_body(data: dict[str, str]) -> dict[str, Any]:
    """The ``POST /sync`` body a sync form stands for; form times without an offset are UTC."""
    body: dict[str, Any] = {"scope": data.get("scope", "all"),
                            "options": {"forceUpdate": data.get("forceUpdate") == "on", "dryRun": data.get("dryRun") == "on"}}
    if data.get("direction"):
        body["direction"] = data["direction"]
    start, end = data.get("start", "").strip(), data.get("end", "").strip()
    if start or end:
        body["options"]["dateRange"] = {"start": instant(start), "end": instant(end)}
    return body


@post("/console/integrations/{integration_id:str}/sync", include_in_schema=False)
async def sync_now(request: Request, integration_id: FromPath[str]) -> Redirect | Template:
    who = viewer(request)
    data = await form(request)
    svc = services(request)
    try:
        body = strict(sync_body(data), SyncIn)
        row = await service.get_owned(svc, who, integration_id)
        started = await runs.start(svc, row, body, type_="manual", triggered_by={"userId": who.user_id, "name": who.name})
    except ApiError as exc:
        if exc.code == "INTEGRATION_NOT_FOUND":
            raise
        return await page(request, integration_id, status=exc.status, sync_form=data, sync_error=exc)
    return see_other(f"/console/integrations/{integration_id}?run={started['syncId']}#progress")


@get("/console/integrations/{integration_id:str}/runs/{sync_id:str}", include_in_schema=False)
async def run_status(request: Request, integration_id: FromPath[str], sync_id: FromPath[str]) -> Response:
    """The run's status as ``GET …/sync/{id}/status`` has it: what the progress bar polls."""
    who = viewer(request)
    view = history.run_view(await history.get_run(services(request), who, integration_id, sync_id))
    return Response(content=view, headers=HEADERS)


@post("/console/integrations/{integration_id:str}/disconnect", include_in_schema=False)
async def disconnect(request: Request, integration_id: FromPath[str]) -> Template:
    who = viewer(request)
    await form(request)
    report = await manage.disconnect(services(request), who, integration_id)
    return await page(request, integration_id, report=report)
