"""Stored signals turned into work, after the provider has been answered: a burst of
notifications for one integration becomes one incremental sync (and one more if some
came while it ran), through the sync's own start path and its one-run lock.

One worker per integration per process drains its pending signals: it claims them
(one conditional UPDATE: two processes never take the same signal), starts a sync
triggered by ``push_notification`` and waits for it, then looks again. A signal a
dead process left unclaimed is taken by the next upkeep round (``sweep``); one it had
claimed but not synced is caught by the safety poll.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from ..db import Integration, PushSubscription, SyncRun
from ..errors import ApiError
from ..runtime.services import Services
from ..sync.options import SyncIn
from ..sync.runs import start
from . import store
from .lifecycle import mark_for_renewal

log = logging.getLogger("axhub.push")

TRIGGERED_BY = "push_notification"
STALE = timedelta(seconds=30)  # an unclaimed signal this old has lost its worker
KEEP = timedelta(days=2)  # handled signals kept this long: a provider's redelivery is still recognised


def _seconds(svc: Services, name: str, default: float) -> float:
    return float(svc.config.env.get(name) or default)


class PushWork:
    """The workers of this process, one per integration with pending signals."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.running: set[str] = set()
        # Kicked while its worker was claiming: it must look again before it stops.
        self.dirty: set[str] = set()
        self.counters: Counter[str] = Counter()

    def kick(self, integration_id: str) -> None:
        self.dirty.add(integration_id)
        if integration_id in self.running:
            return
        self.running.add(integration_id)
        self.svc.tasks.spawn(self._drain(integration_id), name=f"push-{integration_id}")

    async def _drain(self, integration_id: str) -> None:
        try:
            # A moment for the rest of a burst to arrive (notifications come in flurries).
            await asyncio.sleep(_seconds(self.svc, "AXHUB_PUSH_DELAY", 0.5))
            while True:
                self.dirty.discard(integration_id)
                claimed = await store.claim_pending(self.svc, integration_id, f"{os.getpid()}-{secrets.token_hex(8)}")
                if not claimed:
                    if integration_id in self.dirty:
                        continue
                    return
                await self._work(integration_id, claimed)
        finally:
            self.running.discard(integration_id)

    async def _work(self, integration_id: str, claimed: list[Any]) -> None:
        svc = self.svc
        kinds = Counter(kind for kind, _at, _sub, _detail in claimed)

        def through(wanted: str) -> list[str]:  # the subscriptions that carried signals of a kind
            return sorted({sub for kind, _at, sub, _detail in claimed if kind == wanted})

        async with svc.db.session() as s:
            row = await s.get(Integration, integration_id)
        if row is None or row.status == "disconnected":
            return
        if kinds["revoked"]:
            await _revoked(svc, row)
            return
        at = datetime.now(timezone.utc)
        if kinds["reauthorize"]:
            await mark_for_renewal(svc, through("reauthorize"), at)
        if kinds["removed"]:
            await mark_for_renewal(svc, through("removed"), at, gone=True)
        # A meeting that ended is worked like a change: the run's follow-up step reads
        # the attendance of the ended meetings (the scheduled pull's own code).
        work = kinds["changed"] + kinds["ended"]
        if not work:
            return  # a confirmation: acknowledged, nothing to sync
        if row.status == "error" and row.last_error == "INVALID_CREDENTIALS":
            return
        newest = max(at for kind, at, _sub, _detail in claimed if kind in ("changed", "ended"))
        self.counters["notifications"] += work
        ended = sorted({detail for kind, _at, _sub, detail in claimed if kind == "ended" and detail})
        await self._sync(row, newest, work, ended)

    async def _sync(self, row: Integration, since: datetime, count: int, ended: list[str] | None = None) -> str:
        svc = self.svc
        pause = _seconds(svc, "AXHUB_SYNC_REQUEST_RETRY", 1.0)
        deadline = time.monotonic() + _seconds(svc, "AXHUB_SYNC_REQUEST_PATIENCE", 600.0)
        by = {"name": TRIGGERED_BY, "provider": row.provider, "notifications": count}
        while True:
            try:
                started = await start(svc, row, SyncIn(), type_="automatic", triggered_by=by, wait=True,
                                      ended=ended or ())
            except ApiError as exc:
                if exc.code != "CONFLICT":
                    log.warning("push sync of %s not started: %s", row.id, exc.message)
                    return "skipped"
                holder = (exc.details or {}).get("syncId")
                began = await _started_at(svc, holder)
                # That run reads the provider after the change; not a meeting that ended,
                # though, whose event may not be over yet: only a run told of it looks.
                if began is not None and began >= since and not ended:
                    self.counters["covered"] += 1
                    return "covered"
                if time.monotonic() + pause > deadline:
                    return "busy"
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            self.counters["syncs"] += 1
            log.info("push sync %s of %s (%d notifications)", started["syncId"], row.id, count)
            return "started"

    async def sweep(self, at: datetime) -> int:
        """Kick the integrations whose signals wait with no worker (their process died),
        and forget handled signals past the redelivery window."""
        waiting = await store.integrations_with_pending(self.svc, at - STALE)
        for integration_id in waiting:
            self.kick(integration_id)
        await store.prune_signals(self.svc, at - KEEP)
        return len(waiting)


async def _started_at(svc: Services, run_id: str | None) -> datetime | None:
    if not run_id:
        return None
    async with svc.db.session() as s:
        at = await s.scalar(select(SyncRun.started_at).where(SyncRun.id == run_id))
    return at


async def _revoked(svc: Services, row: Integration) -> None:
    """The provider says the grant is gone: the integration stops syncing until it is
    reconnected (the spec's ``error`` with ``INVALID_CREDENTIALS``), its
    subscriptions with it."""
    at = datetime.now(timezone.utc)
    async with svc.db.session() as s, s.begin():
        await s.execute(update(Integration).where(Integration.id == row.id, Integration.org_id == row.org_id).values(
            status="error", last_error="INVALID_CREDENTIALS", last_error_at=at, updated_at=at,
            last_error_message="the provider says access was revoked; reconnect the integration"))
        await s.execute(update(PushSubscription).where(PushSubscription.integration_id == row.id)
                        .values(state="stopped", renew_at=None, updated_at=at))
    async with svc.db.session() as s:
        fresh = await s.get(Integration, row.id)
    if fresh is not None:
        # As any change of an integration: its notifications stop at once in this
        # process (the cached list of an organisation's integrations), its schedule too.
        await svc.lifecycle.changed(fresh)
