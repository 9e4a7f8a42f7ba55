"""One signed attempt at a stored message (the ``deliver`` hook)."""

from __future__ import annotations

from datetime import datetime

import httpx

from axhub import Blocked, Connection, Delivery, DeliveryOutcome, ProviderContext, retry_after, signature_headers

EXCERPT = 500


def signing_secrets(credentials, at: datetime) -> list[str]:
    """The current secret, and the previous one while a rotation's overlap lasts."""
    out = [credentials.access_token]
    previous, until = credentials.extra.get("previousSecret"), credentials.extra.get("previousUntil")
    if previous and until and datetime.fromisoformat(until) > at:
        out.append(previous)
    return out


async def deliver(ctx: ProviderContext, connection: Connection, delivery: Delivery) -> DeliveryOutcome:
    endpoint = connection.settings.webhooks.get(delivery.target)
    if endpoint is None or not endpoint.enabled:
        return DeliveryOutcome(status="failed", error=f"webhooks.{delivery.target} is no longer configured or enabled")
    secrets = signing_secrets(await connection.credentials(), delivery.at)
    headers = {"Content-Type": "application/json", **endpoint.headers,
               **signature_headers(secrets, delivery.id, int(delivery.at.timestamp()), delivery.payload)}
    try:
        response = await ctx.guard.request(ctx.http, "POST", endpoint.url, content=delivery.payload, headers=headers,
                                           timeout=float(ctx.setting("timeout") or 15))
    except Blocked as exc:
        # A name that does not resolve may come back; an address the guard refuses will not.
        return DeliveryOutcome(status="retry" if exc.transient else "failed", error=exc.reason)
    except httpx.TimeoutException:
        return DeliveryOutcome(status="retry", error="the receiver did not answer in time")
    except httpx.TransportError as exc:
        return DeliveryOutcome(status="retry", error=f"the receiver is unreachable ({type(exc).__name__})")
    code = response.status_code
    excerpt = response.text[:EXCERPT] if response.content else None
    if 200 <= code < 300:
        return DeliveryOutcome(status="delivered", http_status=code, excerpt=excerpt)
    if code == 410:
        return DeliveryOutcome(status="gone", http_status=code, excerpt=excerpt, error="410 Gone: the endpoint is disabled")
    wait = retry_after(response.headers) if code in (429, 503) else None
    error = f"redirect to {response.headers.get('location', '?')} not followed" if 300 <= code < 400 else f"HTTP {code}"
    return DeliveryOutcome(status="retry", http_status=code, retry_after=wait, excerpt=excerpt, error=error)
