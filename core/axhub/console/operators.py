"""The operators' page: installed plugins (version, state and why, capabilities) and
the scheduler's jobs, the facts ``axhub plugins`` and ``axhub jobs`` print, read from
the same parts (the plugin manager through ``integrations.service.providers``, the
scheduler's store through ``Scheduler.schedules``). Hub-wide facts: admins only, and
an organisation's syncs are the only per-integration schedules shown."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, get
from litestar.response import Template

from ..integrations import service
from .web import render, services, viewer


@get("/console/operators", include_in_schema=False)
async def operators_page(request: Request) -> Template:
    who = viewer(request, "admin")
    svc = services(request)
    own = {r.id: r for r in await service.list_rows(svc, who, None, None, None)}
    jobs = []
    if svc.scheduler.running:
        for job in await svc.scheduler.schedules():
            integration = job.get("integrationId")
            if integration is not None and integration not in own:
                continue  # another organisation's schedule: not this admin's to see
            row = own.get(integration or "")
            jobs.append({**job, "provider": row.provider if row else None, "name": row.name if row else None})
    latest = datetime.max.replace(tzinfo=timezone.utc)
    jobs.sort(key=lambda j: (j["nextRun"] is None, j["nextRun"] or latest, j["id"]))
    return render(request, "operators.html", who=who, plugins=service.providers(svc), jobs=jobs,
                  store=svc.scheduler.store_kind, running=svc.scheduler.running,
                  runs_jobs=bool(svc.config.scheduler_run))
