"""The delivery worker: claims due messages, makes one attempt each through the
provider's ``deliver`` hook, and applies the retry policy.

``run_due(now)`` is one round (what a scheduler calls); ``run()`` loops it inside the hub
process. Two processes never attempt one message at once: a claim is a conditional
``UPDATE`` that sets a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and a lease
that outlives a killed process expires, so another process (or the restarted one)
takes the message over: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, or_, select, update

from ..db import DeliveryAttempt, DeliveryMessage, DeliveryTarget, Integration
from ..integrations.service import connection
from ..oplog import failure
from .notices import tell_failure
from ..types import Connection, Delivery, DeliveryOutcome

if TYPE_CHECKING:
    from ..runtime.services import Services

log = logging.getLogger("axhub.deliveries")


class DeliveryWorker:
    def __init__(self, svc: "Services", *, rng: random.Random | None = None) -> None:
        self.svc = svc
        env = svc.config.env
        self.owner = secrets.token_hex(6)
        self.concurrency = int(env.get("AXHUB_DELIVERY_CONCURRENCY") or 50)
        # Rounds run in overlapping lanes: while one waits for its slowest receiver or
        # writes its results, the other's requests are in flight.
        self.lanes = 2 if self.concurrency >= 2 else 1
        self.batch = self.concurrency // self.lanes
        self.lease = float(env.get("AXHUB_DELIVERY_LEASE_SECONDS") or svc.config.provider_timeout + 10)
        self.base = float(env.get("AXHUB_DELIVERY_RETRY_BASE") or 5)
        self.max_wait = float(env.get("AXHUB_DELIVERY_RETRY_MAX_WAIT") or 3600)
        self.retry_after_min = float(env.get("AXHUB_DELIVERY_RETRY_AFTER_MIN") or 1)
        self.disable_after = float(env.get("AXHUB_DELIVERY_DISABLE_AFTER") or 5 * 86400)
        self.poll = float(env.get("AXHUB_DELIVERY_POLL") or 1.0)
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # -- the loop ------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.run(sweep=lane == 0), name=f"delivery-worker-{lane}")
                       for lane in range(self.lanes)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    async def run(self, sweep: bool = True) -> None:
        if sweep:  # signals committed but never broadcast (the last process died in between)
            await self.svc.signals.redispatch()
        swept = time.monotonic()
        while True:
            self._wake.clear()
            try:
                made = await self.run_due()
                if sweep and time.monotonic() - swept > 10:
                    swept = time.monotonic()
                    await self.svc.signals.redispatch(older_than=30)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop outlives a bad round
                log.exception("delivery round failed")
                made = 0
            if made:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll)
            except asyncio.TimeoutError:
                pass

    # -- one round -----------------------------------------------------------------------
    async def run_due(self, now: datetime | None = None) -> int:
        """Attempt the messages due at ``now`` (up to a lane's share of the concurrency);
        returns how many."""
        now = now or self.svc.clock()
        claimed = await self._claim(now)
        if not claimed:
            return 0
        integrations, disabled = await self._integrations({m.integration_id for m in claimed})
        connections = {i: _shared_credentials(connection(self.svc, row)) for i, row in integrations.items()}

        async def attempt(m: DeliveryMessage):
            if (m.integration_id, m.target) in disabled:
                return None  # disabled meanwhile: recorded as failed, kept for a replay
            return await self._attempt(m, integrations.get(m.integration_id), connections.get(m.integration_id), now)

        outcomes = await asyncio.gather(*(attempt(m) for m in claimed))
        await self._record(claimed, outcomes, self.svc.clock())
        return len(claimed)

    async def _claim(self, now: datetime) -> list[DeliveryMessage]:
        M = DeliveryMessage
        due = (select(M.id).where(M.status == "pending", M.next_attempt_at <= now,
                                  or_(M.lease_until.is_(None), M.lease_until < now))
               .order_by(M.next_attempt_at).limit(self.batch))
        if not self.svc.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        async with self.svc.db.session() as s, s.begin():
            rows = (await s.scalars(
                update(M).where(M.id.in_(due.scalar_subquery()))
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.lease))
                .returning(M), execution_options={"synchronize_session": False},
            )).all()
        return list(rows)

    async def _integrations(self, ids: set[str]) -> tuple[dict[str, Integration], set[tuple[str, str]]]:
        """The claimed messages' integrations, and which of their targets are disabled."""
        async with self.svc.db.session() as s:
            rows = (await s.scalars(select(Integration).where(Integration.id.in_(ids)))).all()
            disabled = set((await s.execute(select(DeliveryTarget.integration_id, DeliveryTarget.target).where(
                DeliveryTarget.integration_id.in_(ids), DeliveryTarget.disabled_at.is_not(None)))).all())
        return {r.id: r for r in rows}, disabled

    async def _attempt(self, m: DeliveryMessage, row: Integration | None, conn: Connection | None,
                       now: datetime) -> tuple[DeliveryOutcome, int] | None:
        if row is None or row.status == "disconnected":
            return DeliveryOutcome(status="failed", error="the integration is disconnected"), 0
        delivery = Delivery(id=m.id, integration_id=m.integration_id, target=m.target, kind=m.kind, payload=m.payload,
                            attempt=m.attempts + 1, created_at=m.created_at, at=now)
        started = time.perf_counter()
        try:
            outcome = await self.svc.hub.call(m.provider, "deliver", connection=conn, delivery=delivery)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug is a failed attempt, retried
            log.warning("deliver %s via %s raised %r", m.id, m.provider, exc)
            outcome = DeliveryOutcome(status="retry", error=f"{type(exc).__name__}: {exc}"[:500])
        return outcome, int((time.perf_counter() - started) * 1000)

    def backoff(self, attempts: int, multiplier: float, retry_after: float | None) -> float:
        """Seconds before the next attempt, after ``attempts`` failed ones."""
        if retry_after is not None:  # the receiver said when: honoured within bounds
            return min(max(retry_after, self.retry_after_min), self.max_wait)
        wait = min(self.base * multiplier ** (attempts - 1), self.max_wait)
        return wait * (0.5 + self.rng.random() / 2)  # jitter: receivers are not hit in lock-step

    async def _record(self, claimed: list[DeliveryMessage], outcomes, now: datetime) -> None:
        attempts, updates, healthy, failing, gone, errors = [], [], set(), set(), {}, []
        for m, result in zip(claimed, outcomes):
            base = {"id": m.id, "lease_owner": None, "lease_until": None, "updated_at": now, "error_code": None}
            if result is None:  # its endpoint was disabled meanwhile: kept for a later replay
                updates.append({**base, "status": "failed", "error_code": "WEBHOOK_FAILED", "next_attempt_at": None,
                                "last_error": "the endpoint is disabled",
                                "attempts": m.attempts, "last_status": m.last_status, "delivered_at": None})
                continue
            outcome, ms = result
            count = m.attempts + 1
            attempts.append({"message_id": m.id, "integration_id": m.integration_id, "at": now, "duration_ms": ms,
                             "outcome": outcome.status, "http_status": outcome.http_status,
                             "response_excerpt": outcome.excerpt, "error": outcome.error})
            values = {**base, "attempts": count, "last_status": outcome.http_status, "last_error": outcome.error,
                      "delivered_at": None, "next_attempt_at": None}
            key = (m.integration_id, m.target)
            if outcome.status == "delivered":
                values.update(status="delivered", delivered_at=now, last_error=None)
                healthy.add(key)
            elif outcome.status == "retry" and count <= m.max_retries:
                wait = self.backoff(count, m.backoff_multiplier, outcome.retry_after)
                values.update(status="pending", next_attempt_at=now + timedelta(seconds=wait))
                failing.add(key)
            else:
                values.update(status="failed", error_code=outcome.code or "WEBHOOK_FAILED")
                if outcome.status == "gone":
                    gone[key] = f"the receiver answered {outcome.http_status or 410} Gone"
                else:
                    failing.add(key)
                errors.append((m, outcome, count))
            updates.append(values)
        async with self.svc.db.session() as s, s.begin():
            if attempts:
                await s.execute(insert(DeliveryAttempt), attempts)
            await s.execute(update(DeliveryMessage), updates)
            await self._health(s, healthy, failing - healthy, gone, now)
            for m, outcome, count in errors:
                reason = outcome.error or f"delivery failed ({outcome.status})"
                code = outcome.code or "WEBHOOK_FAILED"
                # Not the target: a Slack webhook URL is itself a secret.
                failure("delivery_failed", integration=m.integration_id, code=code, provider=m.provider,
                        message=m.id, kind=m.kind, attempts=count, http=outcome.http_status, error=reason)
                await s.execute(update(Integration).where(Integration.id == m.integration_id).values(
                    last_error=code, last_error_at=now,
                    last_error_message=f"message {m.id} ({m.kind}) to {m.target} failed after {count} attempt(s): {reason}",
                    # A dead grant fails every message: the integration needs a reconnect.
                    **({"status": "error"} if code == "INVALID_CREDENTIALS" else {}),
                ))
                # The target's first failure in its window is told now; the rest are summed up
                # once the window closes (deliveries/notices.py).
                await tell_failure(self.svc, s, m.org_id, m.integration_id, m.target, {
                    "integrationId": m.integration_id, "provider": m.provider, "target": m.target, "messageId": m.id,
                    "kind": m.kind, "attempts": count, "httpStatus": outcome.http_status,
                    "error": reason, "code": code,
                }, now)

    async def _health(self, s, healthy: set, failing: set, gone: dict, now: datetime) -> None:
        """Targets' health: a success clears ``failing_since``; a target failing without
        a break for ``disable_after`` seconds, or gone, is disabled."""
        T = DeliveryTarget
        keys = healthy | failing | set(gone)
        if not keys:
            return
        # A target's row is made the first time it fails. Two lanes (or processes) may make
        # it at once: the loser's insert does nothing, and the rows are then read locked
        # (PostgreSQL; SQLite's writer already holds the database) so that one transaction
        # at a time moves a target's health.
        new = [{"integration_id": i, "target": t, "failing_since": None, "disabled_at": None, "disabled_reason": None}
               for i, t in keys - healthy]
        if new:
            await s.execute(self.svc.db.insert_ignoring(T), new)
        query = select(T).where(T.integration_id.in_({k[0] for k in keys})).order_by(T.integration_id, T.target)
        if not self.svc.db.is_sqlite:
            query = query.with_for_update()  # in key order: two lanes never wait on each other in a ring
        rows = (await s.scalars(query.execution_options(populate_existing=True))).all()
        known = {(t.integration_id, t.target): t for t in rows}
        for key in keys:
            t = known.get(key)
            if t is None:  # healthy, and never failed: nothing to record
                continue
            if key in healthy:
                t.failing_since = None
                continue
            t.failing_since = t.failing_since or now
            if key in gone:
                t.disabled_at, t.disabled_reason = now, gone[key]
            elif t.disabled_at is None and (now - t.failing_since).total_seconds() >= self.disable_after:
                t.disabled_at = now
                t.disabled_reason = f"failing without a success since {t.failing_since.isoformat()}"


def _shared_credentials(conn: Connection) -> Connection:
    """One vault read per integration per round, however many of its messages go out."""
    read, task = conn._credentials, None

    async def credentials():
        nonlocal task
        if task is None:
            task = asyncio.ensure_future(read())
        return await asyncio.shield(task)

    conn._credentials = credentials
    return conn
