"""Failed deliveries told to people without a flood: of the messages to one target
(an integration's channel, endpoint or event) that fail for good within one window
(``AXHUB_NOTICE_GROUP_SECONDS``, 900 s by default, on a grid from the epoch), the first
raises ``integrationError`` at once; the others are counted, and once the window has
closed one more ``integrationError`` sums them up (``grouped``: how many, the last
error). Both are claimed in ``sent_notifications``, so every process agrees and a
restart sends neither twice; the count is read from the messages themselves."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..db import DeliveryMessage
from ..runtime.once import send_once_in

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ..runtime.services import Services

KIND = "integrationError"
WINDOWS_LOOKED_BACK = 2  # closed windows a round sums up (a hub down for one window loses no summary)


def window_seconds(svc: "Services") -> int:
    return max(1, int(svc.config.env.get("AXHUB_NOTICE_GROUP_SECONDS") or 900))


def window_of(at: datetime, seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=timezone.utc)


def _key(integration_id: str, target: str, start: datetime) -> str:
    # The target may be long (a URL, a channel name): hashed, the key fits the outbox's.
    return f"{integration_id}|{hashlib.sha256(target.encode()).hexdigest()[:16]}|{int(start.timestamp())}"


async def tell_failure(svc: "Services", session: "AsyncSession", org_id: str, integration_id: str, target: str,
                       data: dict[str, Any], now: datetime) -> bool:
    """The failed message's ``integrationError``, if it is the target's first in the
    window (written with the message's final record, in ``session``)."""
    start = window_of(now, window_seconds(svc))
    return await send_once_in(svc, session, KIND, _key(integration_id, target, start), org_id,
                              {**data, "grouped": 0}, at=now)


async def sum_up(svc: "Services", at: datetime) -> int:
    """One summary per target with more than one failure in a recently closed window:
    how many summaries were sent."""
    seconds = window_seconds(svc)
    current = window_of(at, seconds)
    sent = 0
    for back in range(WINDOWS_LOOKED_BACK, 0, -1):
        start = current - timedelta(seconds=seconds * back)
        end = start + timedelta(seconds=seconds)
        M = DeliveryMessage
        async with svc.db.session() as s, s.begin():
            rows = (await s.execute(
                select(M.org_id, M.integration_id, M.provider, M.target, M.error_code, M.last_error, M.updated_at)
                .where(M.status == "failed", M.error_code.is_not(None), M.updated_at >= start, M.updated_at < end)
                .order_by(M.updated_at))).all()
            by_target: dict[tuple[str, str], list[Any]] = {}
            for row in rows:
                by_target.setdefault((row.integration_id, row.target), []).append(row)
            for (integration_id, target), failed in by_target.items():
                if len(failed) < 2:  # the one failure was told at once
                    continue
                last = failed[-1]
                codes = Counter(r.error_code for r in failed)
                more = len(failed) - 1
                data = {"integrationId": integration_id, "provider": last.provider, "target": target,
                        "code": codes.most_common(1)[0][0], "grouped": more,
                        "windowStart": start.isoformat(), "windowEnd": end.isoformat(),
                        "error": f"{more} more message(s) to {target} failed between {start:%H:%M} and {end:%H:%M} UTC "
                                 f"({', '.join(f'{c} ×{n}' for c, n in codes.most_common())}); last: {last.last_error or '-'}"}
                if await send_once_in(svc, s, KIND, "summary|" + _key(integration_id, target, start), last.org_id,
                                      data, at=at):
                    sent += 1
    return sent
