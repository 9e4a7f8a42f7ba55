"""The receiving route's logic (``/hooks/{slug}``, no bearer token): the plugin verifies
the request and names its signals; they are stored (each once) before the provider
is answered, and worked after, in the background. A refused request stores nothing."""

from __future__ import annotations

import logging

from ..errors import ApiError
from ..inbound import InboundAnswer, InboundRequest
from ..runtime.services import Services
from .lifecycle import pushes
from .store import Lookup, store_signals

log = logging.getLogger("axhub.push")

MAX_BODY = 64 * 1024  # Google's notifications are empty; Graph's and Slack's a few KB
REFUSED = {401: ("UNAUTHORIZED", "the notification could not be verified"),
           404: ("NOT_FOUND", "no such subscription")}


async def receive(svc: Services, slug: str, request: InboundRequest) -> InboundAnswer:
    record = svc.plugins.records.get(slug)
    if record is None or record.status != "loaded" or not pushes(svc, slug):
        raise ApiError("NOT_FOUND", "no such route")
    lookup = Lookup(svc, slug)
    answer = await svc.hub.call(slug, "receive", request=request, subscriptions=lookup)
    if not isinstance(answer, InboundAnswer):
        raise TypeError(f"{slug}'s receive returned {type(answer).__name__}, not axhub.InboundAnswer")
    if answer.status >= 400:
        # The reason is the operator's (which check failed), never the caller's.
        log.warning("push notification to /hooks/%s refused (%d): %s", slug, answer.status, answer.reason)
        code, message = REFUSED.get(answer.status, ("VALIDATION_ERROR", "the notification was not accepted"))
        raise ApiError(code, message, status=answer.status if code == "VALIDATION_ERROR" else None)
    for integration_id in await store_signals(svc, lookup.found, answer.signals):
        svc.push.kick(integration_id)
    return answer
