"""What the delivery routes do: the message log, replay, endpoint health and the signing
secret (their figures are read by ``axhub.analytics.statistics``). Every query is scoped
to the caller's organisation through the integration (another organisation's is a 404)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select, update

from ..wire import Meta, Wire
from ..auth import Identity
from ..db import Credential, DeliveryAttempt, DeliveryMessage, DeliveryTarget, Integration
from ..errors import ApiError, validation_error
from ..signing import new_secret
from ..runtime.services import Services
from ..types import Credentials

STATUSES = ("pending", "delivered", "failed")
EXCERPT = 500


class AttemptOut(Wire):
    at: datetime
    outcome: str
    http_status: int | None
    duration_ms: int
    response_excerpt: str | None
    error: str | None


class MessageOut(Wire, kw_only=True, omit_defaults=True):
    id: str
    target: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    payload: Any = None
    attempt_log: list[AttemptOut] | None = None


class RecoverIn(Wire, forbid_unknown_fields=True):
    """``POST …/webhooks/recover``: the failed messages created in [since, until) are sent again."""
    since: datetime
    until: datetime | None = None


class TargetOut(Wire):
    target: str
    status: str
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None


async def owned(svc: Services, identity: Identity, integration_id: str) -> Integration:
    async with svc.db.session() as s:
        row = await s.scalar(select(Integration).where(Integration.id == integration_id, Integration.org_id == identity.org_id))
    if row is None:
        raise ApiError("INTEGRATION_NOT_FOUND", f"integration {integration_id!r} not found")
    return row


def _view(m: DeliveryMessage, attempts: list[DeliveryAttempt] | None = None) -> MessageOut:
    try:
        payload = msgspec.json.decode(m.payload) if attempts is not None else None
    except msgspec.DecodeError:
        payload = m.payload.decode("utf-8", "replace")
    return MessageOut(
        id=m.id, target=m.target, kind=m.kind, status=m.status, attempts=m.attempts, created_at=m.created_at,
        next_attempt_at=m.next_attempt_at if m.status == "pending" else None, delivered_at=m.delivered_at,
        last_status=m.last_status, last_error=m.last_error, payload=payload,
        attempt_log=None if attempts is None else [AttemptOut(
            at=a.at, outcome=a.outcome, http_status=a.http_status, duration_ms=a.duration_ms,
            response_excerpt=a.response_excerpt, error=a.error) for a in attempts],
    )


async def messages(svc: Services, identity: Identity, integration_id: str, status: str | None, kind: str | None,
                   page: int, limit: int) -> tuple[list[MessageOut], Meta]:
    row = await owned(svc, identity, integration_id)
    if status is not None and status not in STATUSES:
        raise validation_error("status", f"must be one of {', '.join(STATUSES)}")
    query = select(DeliveryMessage).where(DeliveryMessage.integration_id == row.id)
    if status is not None:
        query = query.where(DeliveryMessage.status == status)
    if kind is not None:
        query = query.where(DeliveryMessage.kind == kind)
    async with svc.db.session() as s:
        total = await s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = (await s.scalars(query.order_by(DeliveryMessage.created_at.desc(), DeliveryMessage.id)
                                .offset((page - 1) * limit).limit(limit))).all()
    return [_view(m) for m in rows], Meta(page=page, limit=limit, total=total, total_pages=math.ceil(total / limit))


async def _message(s, row: Integration, message_id: str) -> DeliveryMessage:
    m = await s.scalar(select(DeliveryMessage).where(DeliveryMessage.id == message_id,
                                                     DeliveryMessage.integration_id == row.id))
    if m is None:
        raise ApiError("NOT_FOUND", f"message {message_id!r} not found", field="messageId")
    return m


async def message(svc: Services, identity: Identity, integration_id: str, message_id: str) -> MessageOut:
    row = await owned(svc, identity, integration_id)
    async with svc.db.session() as s:
        m = await _message(s, row, message_id)
        attempts = (await s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == m.id)
                                    .order_by(DeliveryAttempt.id))).all()
    return _view(m, list(attempts))


def _again(now: datetime) -> dict[str, Any]:
    # A replay is a new round with the message's whole retry budget; the attempt log keeps the old ones.
    return {"status": "pending", "attempts": 0, "next_attempt_at": now, "lease_owner": None, "lease_until": None,
            "updated_at": now}


async def resend(svc: Services, identity: Identity, integration_id: str, message_id: str) -> MessageOut:
    row = await owned(svc, identity, integration_id)
    now = svc.clock()
    async with svc.db.session() as s, s.begin():
        m = await _message(s, row, message_id)
        if m.status == "pending":
            raise ApiError("CONFLICT", f"message {message_id!r} is still being delivered", field="messageId")
        await s.execute(update(DeliveryMessage).where(DeliveryMessage.id == m.id).values(**_again(now)))
    svc.worker.wake()
    async with svc.db.session() as s:
        return _view(await _message(s, row, message_id))


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise validation_error(field, "must carry a UTC offset (e.g. 2024-03-15T10:00:00Z)")
    return value


async def recover(svc: Services, identity: Identity, integration_id: str, since: datetime, until: datetime | None) -> int:
    """Every failed message created in [since, until) sent again; how many."""
    since, until = _aware(since, "since"), _aware(until, "until") if until is not None else None
    row = await owned(svc, identity, integration_id)
    now = svc.clock()
    query = update(DeliveryMessage).where(DeliveryMessage.integration_id == row.id, DeliveryMessage.status == "failed",
                                          DeliveryMessage.created_at >= since)
    if until is not None:
        query = query.where(DeliveryMessage.created_at < until)
    async with svc.db.session() as s, s.begin():
        count = (await s.execute(query.values(**_again(now)))).rowcount
    svc.worker.wake()
    return count


async def targets(svc: Services, identity: Identity, integration_id: str) -> list[TargetOut]:
    row = await owned(svc, identity, integration_id)
    async with svc.db.session() as s:
        rows = (await s.scalars(select(DeliveryTarget).where(DeliveryTarget.integration_id == row.id)
                                .order_by(DeliveryTarget.target))).all()
    return [TargetOut(target=t.target, status="disabled" if t.disabled_at else ("failing" if t.failing_since else "healthy"),
                      failing_since=t.failing_since, disabled_at=t.disabled_at, disabled_reason=t.disabled_reason)
            for t in rows]


async def enable_target(svc: Services, identity: Identity, integration_id: str, target: str) -> TargetOut:
    row = await owned(svc, identity, integration_id)
    async with svc.db.session() as s, s.begin():
        t = await s.get(DeliveryTarget, (row.id, target))
        if t is None:
            raise ApiError("NOT_FOUND", f"no endpoint {target!r} has been disabled or is failing", field="target")
        t.disabled_at = t.disabled_reason = t.failing_since = None
    return TargetOut(target=target, status="healthy", failing_since=None, disabled_at=None, disabled_reason=None)


async def rotate_secret(svc: Services, identity: Identity, integration_id: str) -> tuple[str, datetime]:
    """A new signing secret, shown once; the old one keeps signing beside it (both
    signatures are sent) for ``AXHUB_SIGNING_SECRET_OVERLAP`` seconds (a day)."""
    row = await owned(svc, identity, integration_id)
    if "signing" not in svc.hub.provider(row.provider).capabilities or row.status == "disconnected":
        raise ApiError("PROVIDER_NOT_SUPPORTED", f"integration {integration_id!r} has no signing secret to rotate")
    overlap = float(svc.config.env.get("AXHUB_SIGNING_SECRET_OVERLAP") or 86400)
    until = svc.clock() + timedelta(seconds=overlap)
    secret = new_secret()
    async with svc.db.session() as s, s.begin():
        cred = await s.get(Credential, row.id, with_for_update=True)
        if cred is None:
            raise ApiError("PROVIDER_NOT_SUPPORTED", f"integration {integration_id!r} has no signing secret to rotate")
        old = svc.cipher.open_credentials(cred.ciphertext)
        new = Credentials(access_token=secret, extra={"previousSecret": old.access_token, "previousUntil": until.isoformat()})
        cred.ciphertext = svc.cipher.seal_credentials(new)
        cred.version += 1
        cred.updated_at = svc.clock()
    return secret, until
