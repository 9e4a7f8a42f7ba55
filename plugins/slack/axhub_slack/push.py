"""Slack's Events API receiver (``/hooks/slack``): the Request URL's ``url_verification``
challenge, every request's signature, and the end of an installation
(``app_uninstalled``, ``tokens_revoked``) turned into the integration's revocation
(docs/push.md, "Slack").

Slack sends one Request URL per app, for every workspace that installed it, signed with
the app's Signing Secret (the operator's ``AXHUB_SLACK_SIGNING_SECRET``): a subscription
here only says which integrations belong to which workspace (``resource`` = the team id
oauth.v2.access answered; ``resource_id`` = the app's bot user, whose token is the
integration's).

- ``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256(secret, ``v0:{X-Slack-Request-Timestamp}:{raw body}``),
  compared in constant time; a timestamp more than five minutes from now is refused
  (Slack's own advice against replays), as is an unsigned request.
- ``url_verification`` (sent when the Request URL is saved) is answered with its
  ``challenge``, as text, once its signature checked out.
- ``event_callback`` with ``app_uninstalled`` → ``revoked`` for every integration of the
  team; ``tokens_revoked`` → ``revoked`` for those whose bot user (or installer) is
  among the revoked tokens' users. Keyed by ``event_id``: Slack's retries
  (``X-Slack-Retry-Num``) are worked once. Other events are acknowledged and ignored;
  a team no integration belongs to is 404.
"""

from __future__ import annotations

import json
from typing import Any

from axhub import (
    Connection, InboundAnswer, InboundRequest, ProviderContext, ProviderError, Signal, SubscribeRequest, Subscribed,
    Subscription, SubscriptionLookup, v0_refusal,
)

WINDOW = 300  # seconds: Slack's five minutes
SANDBOX_SECRET = "sandbox-signing-secret-slack"  # the sandbox app's Signing Secret (sandbox mode only)
SECRET_SETTING = "SIGNING_SECRET"  # AXHUB_SLACK_SIGNING_SECRET


def signing_secret(ctx: ProviderContext) -> str | None:
    return ctx.setting(SECRET_SETTING) or (SANDBOX_SECRET if ctx.sandbox else None)


async def subscribe(ctx: ProviderContext, connection: Connection, request: SubscribeRequest) -> Subscribed:
    """Nothing to open at Slack (the Request URL is the app's): note the workspace and the
    bot user the integration's notifications will name."""
    if not signing_secret(ctx):
        raise ProviderError(f"AXHUB_SLACK_{SECRET_SETTING} is not set: Slack's events could not be verified",
                            reason="no_signing_secret")
    extra = (await connection.credentials()).extra
    team = (extra.get("team") or {}).get("id")
    if not isinstance(team, str) or not team:
        raise ProviderError("Slack did not say which workspace the app was installed in", reason="no_team_id")
    if ctx.sandbox:
        # The operator's step in the app's settings (Event Subscriptions, Request URL),
        # done for the sandbox app so that sandbox mode is told of uninstalls out of the box.
        await ctx.call("POST", f"{ctx.endpoint('api').removesuffix('/api')}/_control/push",
                       json={"requestUrl": request.address})
    users = [u for u in (extra.get("bot_user_id"), extra.get("authed_user_id")) if isinstance(u, str) and u]
    return Subscribed(provider_id=request.id, resource=team, resource_id=",".join(users) or None, expires_at=None)


async def unsubscribe(subscription: Subscription) -> None:
    """Nothing to remove at Slack: the Request URL is the app's, shared by every workspace."""


def _revoked_users(event: dict[str, Any]) -> set[str]:
    tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
    return {u for kind in ("oauth", "bot") for u in (tokens.get(kind) or []) if isinstance(u, str)}


async def receive(ctx: ProviderContext, request: InboundRequest, subscriptions: SubscriptionLookup) -> InboundAnswer:
    secret = signing_secret(ctx)
    if not secret:
        return InboundAnswer.refused(401, f"AXHUB_SLACK_{SECRET_SETTING} is not set: nothing can be verified")
    why = v0_refusal(secret, request, "X-Slack-Signature", "X-Slack-Request-Timestamp", WINDOW)
    if why is not None:
        return InboundAnswer.refused(401, why)
    try:
        body: Any = json.loads(request.body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return InboundAnswer.refused(400, "the body is not JSON")
    if not isinstance(body, dict):
        return InboundAnswer.refused(400, "not a Slack event")
    if body.get("type") == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge or len(challenge) > 256:
            return InboundAnswer.refused(400, "url_verification without a challenge")
        return InboundAnswer(body=challenge.encode(), media_type="text/plain")
    team = body.get("team_id")
    found = await subscriptions.by_resource(team) if isinstance(team, str) else []
    if not found:
        return InboundAnswer.refused(404, f"no integration of Slack team {str(team)[:64]!r}")
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    kind, event_id = event.get("type"), str(body.get("event_id") or "")[:120]
    if body.get("type") != "event_callback" or not event_id:
        return InboundAnswer()  # acknowledged: Slack stops retrying; nothing here uses it
    if kind == "app_uninstalled":
        hit = found
    elif kind == "tokens_revoked":
        users = _revoked_users(event)
        hit = [s for s in found if users & set((s.resource_id or "").split(","))]
    else:
        hit = []
    return InboundAnswer(signals=tuple(Signal(kind="revoked", subscription=s.id, key=f"slack:{event_id}", detail=kind)
                                       for s in hit))
