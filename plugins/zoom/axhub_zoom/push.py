"""Zoom push: the app's event-notification endpoint (``/hooks/zoom``), verified with
the app's Secret Token, and ``meeting.ended`` turned into an attendance pull at once
(docs/push.md, "Zoom").

Zoom notifies one address per Marketplace app, for every account that installed it,
and signs each request with the app's Secret Token (the operator's
``AXHUB_ZOOM_WEBHOOK_SECRET_TOKEN``), not with a per-subscription secret: a
subscription here only says which integrations listen to which Zoom account
(``resource`` = the account id, read from ``GET /users/me`` when subscribing).

- ``x-zm-signature`` is ``v0=`` + hex HMAC-SHA256(secret, ``v0:{x-zm-request-timestamp}:{raw body}``),
  compared in constant time; a timestamp more than ``TOLERANCE`` seconds away from
  now is refused (a replay), as is an unsigned request.
- ``endpoint.url_validation`` (Zoom checks the address when it is saved, then every
  72 hours) is answered ``{"plainToken", "encryptedToken"}``, ``encryptedToken`` =
  hex HMAC-SHA256(secret, plainToken). It is signed like any event and checked the
  same way first: answering unsigned validations would hand anyone an HMAC of any
  text under the app's secret, i.e. the means to sign forged events.
- ``meeting.ended`` for a known account → an ``ended`` signal per integration of that
  account (keyed by the meeting instance's uuid: Zoom's retries are worked once);
  other events are acknowledged and ignored; an account no integration listens to is 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from axhub import (
    Connection, InboundAnswer, InboundRequest, ProviderContext, ProviderError, Signal, SubscribeRequest, Subscribed,
    SubscriptionLookup, v0_refusal,
)

from .errors import zoom_error

TOLERANCE = 300  # seconds a notification's timestamp may be away from now (Zoom retries within minutes)
SANDBOX_SECRET = "sandbox-webhook-secret-zoom"  # the sandbox app's Secret Token (sandbox mode only)
SECRET_SETTING = "WEBHOOK_SECRET_TOKEN"  # AXHUB_ZOOM_WEBHOOK_SECRET_TOKEN


def secret_token(ctx: ProviderContext) -> str | None:
    return ctx.setting(SECRET_SETTING) or (SANDBOX_SECRET if ctx.sandbox else None)


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    """Nothing to open at Zoom (the address is the app's, set in the Marketplace): find
    the account the integration's notifications will name."""
    if not secret_token(ctx):
        raise ProviderError(f"AXHUB_ZOOM_{SECRET_SETTING} is not set: Zoom's notifications could not be "
                            "verified, so the integration polls", reason="no_secret_token")
    me = (await ctx.call("GET", f"{ctx.endpoint('api')}/users/me", token=await connection.access_token(),
                         errors=zoom_error)).json()
    account = me.get("account_id")
    if not isinstance(account, str) or not account:
        raise ProviderError("Zoom did not say which account the user belongs to", reason="no_account_id")
    if ctx.sandbox:
        # The operator's step in the Marketplace (the endpoint URL, then Validate), done
        # for the sandbox app so that sandbox mode pushes out of the box.
        await ctx.call("POST", f"{ctx.endpoint('api').removesuffix('/v2')}/_control/push",
                       json={"endpoint": request.address})
    return Subscribed(provider_id=request.id, resource=account, expires_at=None)


async def receive(ctx: ProviderContext, request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    secret = secret_token(ctx)
    if not secret:
        return InboundAnswer.refused(401, f"AXHUB_ZOOM_{SECRET_SETTING} is not set: nothing can be verified")
    why = v0_refusal(secret, request, "x-zm-signature", "x-zm-request-timestamp", TOLERANCE)
    if why is not None:
        return InboundAnswer.refused(401, why)
    try:
        body: Any = json.loads(request.body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return InboundAnswer.refused(400, "the body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        return InboundAnswer.refused(400, "not a Zoom event: no payload")
    event, payload = body.get("event"), body["payload"]
    if event == "endpoint.url_validation":
        plain = payload.get("plainToken")
        if not isinstance(plain, str) or not plain or len(plain) > 256:
            return InboundAnswer.refused(400, "endpoint.url_validation without a plainToken")
        answer = {"plainToken": plain, "encryptedToken": sign(secret, plain.encode())}
        return InboundAnswer(body=json.dumps(answer).encode(), media_type="application/json")
    account = payload.get("account_id")
    found = await subscriptions.by_resource(account) if isinstance(account, str) else []
    if not found:
        return InboundAnswer.refused(404, f"no integration listens to Zoom account {str(account)[:64]!r}")
    if event != "meeting.ended":
        return InboundAnswer()  # acknowledged: Zoom stops retrying; nothing here uses it
    meeting = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    meeting_id = meeting.get("id")
    if not isinstance(meeting_id, (int, str)) or isinstance(meeting_id, bool) or not str(meeting_id):
        return InboundAnswer.refused(400, "meeting.ended without the meeting's id")
    # The instance's uuid: a recurring meeting's id ends many times, each instance once.
    instance = str(meeting.get("uuid") or meeting_id)[:120]
    return InboundAnswer(signals=tuple(Signal(kind="ended", subscription=sub.id, key=f"zoom:ended:{instance}",
                                              detail=str(meeting_id)) for sub in found))
