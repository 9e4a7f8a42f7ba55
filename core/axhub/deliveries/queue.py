"""What a plugin's ``notify`` uses to send something durably: ``ctx.deliveries``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select

from ..db import DeliveryMention, DeliveryMessage, DeliveryTarget, Integration
from ..integrations.service import connection
from ..organizations.service import settings_of
from ..types import Connection, Policy
from ..db.batch import GroupCommit

if TYPE_CHECKING:
    from ..runtime.services import Services


def message_id(integration_id: str, key: str) -> str:
    """The same message id for the same (integration, key), whoever stores it and
    however often: a notification broadcast again maps to the row already stored."""
    digest = hashlib.sha256(f"{integration_id}\0{key}".encode()).digest()[:16]
    return "msg_" + base64.b32encode(digest).decode().rstrip("=").lower()


def mentioned(payload: bytes) -> list[str]:
    """The people a payload's ``mentions`` names (a chat plugin lists them there)."""
    if b'"mentions"' not in payload:
        return []
    try:
        found = msgspec.json.decode(payload).get("mentions") or []
    except (msgspec.DecodeError, AttributeError):
        return []
    return list(dict.fromkeys(m[:320] for m in found if isinstance(m, str))) if isinstance(found, list) else []


class Store:
    """The hub's side of ``ctx.deliveries``: stores messages with group commits."""

    def __init__(self, svc: "Services") -> None:
        self.svc = svc
        self.writes: GroupCommit[dict[str, Any]] = GroupCommit(self._insert)
        # Which integrations an organisation has, per provider: read once per burst of
        # notifications, not once each. Changes made through this process forget it at
        # once (forget()); other processes' changes are seen after the TTL.
        self.ttl = float(svc.config.env.get("AXHUB_DELIVERY_CONFIG_TTL") or 2)
        self._integrations: dict[tuple[str, str], tuple[float, asyncio.Future]] = {}

    async def integrations(self, slug: str, org_id: str) -> list[Connection]:
        key = (slug, org_id)
        hit = self._integrations.get(key)
        if hit is None or hit[0] < time.monotonic():
            hit = (time.monotonic() + self.ttl, asyncio.ensure_future(self._load(slug, org_id)))
            self._integrations[key] = hit
        try:
            return await asyncio.shield(hit[1])
        except Exception:
            self._integrations.pop(key, None)
            raise

    def forget(self, org_id: str) -> None:
        for key in [k for k in self._integrations if k[1] == org_id]:
            del self._integrations[key]

    async def _load(self, slug: str, org_id: str) -> list[Connection]:
        async with self.svc.db.session() as s:
            rows = (await s.scalars(select(Integration).where(
                Integration.org_id == org_id, Integration.provider == slug, Integration.status == "connected",
            ))).all()
        return [connection(self.svc, row) for row in rows]

    async def _insert(self, rows: list[dict[str, Any]]) -> list[str]:
        db = self.svc.db
        async with db.session() as s, s.begin():
            integrations = {r["integration_id"] for r in rows}
            disabled = set((await s.execute(
                select(DeliveryTarget.integration_id, DeliveryTarget.target)
                .where(DeliveryTarget.integration_id.in_(integrations), DeliveryTarget.disabled_at.is_not(None))
            )).all())
            for r in rows:
                if (r["integration_id"], r["target"]) in disabled:
                    r.update(status="failed", next_attempt_at=None, last_error="the endpoint is disabled",
                             error_code="WEBHOOK_FAILED")
            await s.execute(db.insert_ignoring(DeliveryMessage), rows)
            # The people each message mentions, with it: what a chat's activeUsers counts
            # (reading them back out of the payloads would decode every one on each view).
            people = [{"message_id": r["id"], "integration_id": r["integration_id"], "person": p}
                      for r in rows for p in mentioned(r["payload"])]
            if people:
                await s.execute(db.insert_ignoring(DeliveryMention), people)
        worker = getattr(self.svc, "worker", None)
        if worker is not None:
            worker.wake()
        return [r["id"] for r in rows]


class Deliveries:
    """``ctx.deliveries``: a provider's durable outbound messages.

    ``enqueue`` stores a message (nothing is sent before it is stored); the hub's
    delivery worker then calls the provider's ``deliver`` hook until it is delivered or
    out of retries. ``key`` makes enqueueing idempotent: the notification id plus the
    destination is the usual choice.
    """

    def __init__(self, svc: "Services", slug: str) -> None:
        self.svc = svc
        self.slug = slug

    async def integrations(self, org_id: str) -> list[Connection]:
        """The organisation's connected integrations of this provider."""
        return await self.svc.deliveries.integrations(self.slug, org_id)

    async def organization(self, org_id: str):
        """The organisation's time zone and locale: what its messages are written in."""
        return await settings_of(self.svc, org_id)

    async def enqueue(self, connection: Connection, *, target: str, kind: str, payload: bytes, key: str,
                      subject: str | None = None, policy: Policy = Policy()) -> str:
        """Store one message for ``connection``'s ``target``; returns its id (the same
        id when ``key`` was enqueued before, which stores nothing new)."""
        at = self.svc.clock()
        return await self.svc.deliveries.writes.submit({
            "id": message_id(connection.id, key), "integration_id": connection.id, "org_id": connection.org_id,
            "provider": self.slug, "target": target, "kind": kind, "subject": subject, "dedupe_key": key[:128],
            "payload": payload, "status": "pending", "attempts": 0, "max_retries": policy.max_retries,
            "backoff_multiplier": policy.backoff_multiplier, "next_attempt_at": at, "lease_owner": None,
            "lease_until": None, "last_status": None, "last_error": None, "error_code": None, "created_at": at, "delivered_at": None,
            "updated_at": at,
        })

    async def last_payload(self, connection: Connection, target: str, subject: str) -> bytes | None:
        """The payload of the latest message stored for ``subject`` (an event id) at
        ``target``: what a filter compares a new one with."""
        async with self.svc.db.session() as s:
            return await s.scalar(
                select(DeliveryMessage.payload)
                .where(DeliveryMessage.integration_id == connection.id, DeliveryMessage.target == target,
                       DeliveryMessage.subject == subject)
                .order_by(DeliveryMessage.created_at.desc(), DeliveryMessage.id.desc()).limit(1)
            )
