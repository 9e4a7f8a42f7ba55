"""Analytics for admins: ``GET /api/integrations/analytics/metrics`` (the same
:func:`axhub.analytics.service.metrics`) drawn as charts, with the API's period selector."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Template

from ..analytics import service
from ..errors import ApiError
from . import charts
from .web import render, services, viewer


@get("/console/analytics", include_in_schema=False)
async def analytics_page(request: Request) -> Template:
    who = viewer(request, "admin")
    svc = services(request)
    period = request.query_params.get("period") or "week"
    chosen = request.query_params.get("providers") or None
    try:
        metrics = await service.metrics(svc, who.org_id, period, service.parse_providers(svc, chosen))
    except ApiError as exc:
        return render(request, "analytics.html", who=who, status=exc.status, error=exc, period=period,
                      periods=service.PERIODS, chosen=chosen, metrics=None)
    days = [(d["date"], d["syncs"] - d["errors"], d["errors"]) for d in metrics["trends"]["syncVolume"]]
    providers = metrics["byProvider"]
    rates = [(slug, p["successRate"] * 100, f"{p['successRate'] * 100:.1f}%") for slug, p in providers.items()
             if p["successRate"] is not None]
    times = [(slug, charts.milliseconds(p["averageResponseTime"]), p["averageResponseTime"]) for slug, p in providers.items()
             if p["averageResponseTime"]]
    codes = [(e["error"], e["count"], f"{e['count']} ({e['percentage'] * 100:.0f}%)") for e in metrics["errors"]["commonErrors"]]
    figures = {
        "volume": charts.stacked_days("Syncs per day by outcome", days),
        "rates": charts.horizontal("Success rate by provider", rates, peak=100),
        "times": charts.horizontal("Average response time by provider", [t for t in times if t[1] is not None]),
        "codes": charts.horizontal("Errors by code", codes),
    }
    return render(request, "analytics.html", who=who, metrics=metrics, figures=figures, period=period,
                  periods=service.PERIODS, chosen=chosen, error=None)
