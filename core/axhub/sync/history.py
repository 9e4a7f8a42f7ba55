"""Reading runs back: one run's live status, and an integration's history with its
filters and pages, in the spec's words."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from ..auth import Identity
from ..db import SyncRun
from ..errors import ApiError, validation_error
from ..integrations.service import get_owned
from ..runtime.services import Services
from .lock import GET_RUN
from .options import human

# One run, two vocabularies, as the spec has it (docs/api-changes.md): the live status
# (``…/sync/:id/status``) says started/running/completed/partial/failed; history says
# success/partial/error for a finished run. A history filter takes either spelling.
HISTORY_STATUS = {"completed": "success", "partial": "partial", "failed": "error", "started": "started", "running": "running"}
STATUS_FILTER = {**{word: stored for stored, word in HISTORY_STATUS.items()}, **{stored: stored for stored in HISTORY_STATUS}}


def run_view(run: SyncRun, *, history: bool = False) -> dict[str, Any]:
    triggered = run.triggered_by or {}
    by: Any = triggered.get("name") if set(triggered) == {"name"} else triggered
    seconds = run.duration_ms / 1000 if run.duration_ms is not None else None
    out: dict[str, Any] = {
        "id" if history else "syncId": run.id,
        "startedAt": run.started_at,
        "completedAt": run.completed_at,
        "status": HISTORY_STATUS[run.status] if history else run.status,
        "type": run.type,
        "direction": run.direction,
        "scope": run.scope,
        "dryRun": run.dry_run,
        "statistics": run.statistics,
        "errors": run.errors,
        "conflicts": run.conflicts,
        "duration": human(seconds),
        "triggeredBy": by,
    }
    if run.message:
        out["message"] = run.message
    if not history and run.plan is not None:
        out["plan"] = run.plan
    return out


async def get_run(svc: Services, identity: Identity, integration_id: str, run_id: str) -> Any:
    """The run (a row of ``sync_runs``) of one of the caller's organisation's
    integrations: one query, since a run carries its organisation (clients poll this
    while a run goes, and the poll shares the process with the run)."""
    async with svc.db.connect() as c:
        run = (await c.execute(GET_RUN, {"run": run_id, "integration": integration_id, "org": identity.org_id})).first()
    if run is None:
        await get_owned(svc, identity, integration_id)  # which of the two is not found
        raise ApiError("NOT_FOUND", f"sync {run_id!r} not found", field="syncId")
    return run


async def history(
    svc: Services, integration_id: str, *, limit: int, page: int, status: str | None,
    start: str | None, end: str | None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    if not 1 <= limit <= 500:
        raise validation_error("limit", "must be between 1 and 500")
    if page < 1:
        raise validation_error("page", "must be 1 or more")
    query = select(SyncRun).where(SyncRun.integration_id == integration_id)
    if status is not None:
        stored = STATUS_FILTER.get(status)
        if stored is None:
            raise validation_error("status", f"must be one of {', '.join(STATUS_FILTER)} (history's words or the status's)")
        query = query.where(SyncRun.status == stored)
    for name, raw in (("startDate", start), ("endDate", end)):
        if raw is None:
            continue
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise validation_error(name, f"{raw!r} is not an ISO 8601 date or date-time") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if name == "endDate" and len(raw) == 10:  # a bare date means the whole day
            value += timedelta(days=1)
        query = query.where(SyncRun.started_at >= value) if name == "startDate" else query.where(SyncRun.started_at < value)
    async with svc.db.session() as s:
        total = await s.scalar(select(func.count()).select_from(query.subquery())) or 0
        runs = (await s.scalars(query.order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                                .offset((page - 1) * limit).limit(limit))).all()
    meta = {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)}
    return [run_view(r, history=True) for r in runs], meta
