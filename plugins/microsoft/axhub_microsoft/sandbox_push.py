"""Change notifications of the Graph sandbox: ``/v1.0/subscriptions`` as Graph documents it
for Outlook events, and the notifications it delivers to each subscription's address.

- ``POST /subscriptions`` validates the request as Graph does (``changeType`` among
  ``created,updated,deleted``, an https ``notificationUrl`` — http only on loopback, the
  hub beside the sandbox —, a ``clientState`` of at most 128 characters, an
  ``expirationDateTime`` in the future and at most 10,080 minutes ahead: Graph's limit
  for Outlook events without resource data), then performs the validation handshake:
  a ``POST {notificationUrl}?validationToken=…`` (and the same at the
  ``lifecycleNotificationUrl``) that must answer 200, ``text/plain``, the token itself,
  within 10 seconds. A failed handshake refuses the subscription (400), as Graph does.
- ``PATCH /subscriptions/{id}`` renews (the same limit), ``DELETE`` removes, ``GET``
  reads; an unknown or expired subscription is 404 ``ResourceNotFound``.
- Each change of an event in a watched calendar (through the API or ``/_control``) is
  one item ``{subscriptionId, subscriptionExpirationDateTime, changeType, resource,
  resourceData: {@odata.type, @odata.id, @odata.etag, id}, clientState, tenantId}``;
  the items of one request are delivered together, as one ``{"value": [...]}`` POST.
- Lifecycle notifications (``reauthorizationRequired``, ``subscriptionRemoved``,
  ``missed``) go to the ``lifecycleNotificationUrl`` on request (``/_control/push/lifecycle``);
  ``subscriptionRemoved`` removes the subscription.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import httpx

from axhub.sandbox import Outgoing, pushable

from .sandbox_event_rules import GraphFault, bad

log = logging.getLogger("axhub.sandbox.microsoft")

MAX_MINUTES = 10080  # Graph's longest subscription to Outlook events (without resource data)
HANDSHAKE_TIMEOUT = 10.0  # seconds Graph waits for the validation answer
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
RESOURCE = re.compile(r"/?(?:me|users/[^/]+)/(?:events|calendar/events|calendars/(?P<cid>[^/]+)/events)", re.I)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def not_found(sub_id: str) -> GraphFault:
    return GraphFault(404, "ResourceNotFound", f"The object '{sub_id}' was not found.")


class Subscription:
    __slots__ = ("calendar", "change_types", "client_state", "expiration", "id", "lifecycle_url", "notification_url",
                 "resource", "sent")

    def __init__(self, id: str, resource: str, calendar: str | None, change_types: tuple[str, ...],
                 notification_url: str, lifecycle_url: str | None, client_state: str | None,
                 expiration: datetime) -> None:
        self.id, self.resource, self.calendar, self.change_types = id, resource, calendar, change_types
        self.notification_url, self.lifecycle_url, self.client_state = notification_url, lifecycle_url, client_state
        self.expiration, self.sent = expiration, 0

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


class Subscriptions:
    """The app's subscriptions, what they watch and what they were sent."""

    def __init__(self, app_id: str, user_id: str, tenant_id: str, calendars: dict[str, Any], default_calendar: str) -> None:
        self.app_id, self.user_id, self.tenant_id = app_id, user_id, tenant_id
        self.calendars, self.default_calendar = calendars, default_calendar
        self.reset()

    def __getstate__(self) -> dict[str, Any]:
        # Kept across restarts (axhub.sandbox persist): the subscriptions; not the
        # controls a test set, nor the notifications in flight.
        return {"subs": self.subs, "removed": self.removed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def reset(self) -> None:
        self.subs: dict[str, Subscription] = {}
        self.removed: list[str] = []
        self.out = Outgoing()  # drop or duplicate the next notifications, delay each, the log
        self.handshakes: list[dict[str, Any]] = []
        self._queued: dict[str, list[dict[str, Any]]] = {}

    # -- the API ---------------------------------------------------------------------------
    def view(self, sub: Subscription, base: str) -> dict[str, Any]:
        return {"@odata.context": f"{base}/$metadata#subscriptions/$entity", "id": sub.id, "resource": sub.resource,
                "applicationId": self.app_id, "changeType": ",".join(sub.change_types),
                "clientState": sub.client_state, "notificationUrl": sub.notification_url,
                "notificationQueryOptions": None, "lifecycleNotificationUrl": sub.lifecycle_url,
                "expirationDateTime": _stamp(sub.expiration), "creatorId": self.user_id,
                "includeResourceData": False, "latestSupportedTlsVersion": "v1_2", "encryptionCertificate": None,
                "encryptionCertificateId": None, "notificationUrlAppId": None}

    def live(self, sub_id: str) -> Subscription:
        sub = self.subs.get(sub_id)
        if sub is not None and sub.expiration <= _now():
            del self.subs[sub_id]  # Graph forgets an expired subscription
            sub = None
        if sub is None:
            raise not_found(sub_id)
        return sub

    def listing(self) -> list[Subscription]:
        return [s for s in list(self.subs.values()) if s.expiration > _now()]

    @staticmethod
    def _expiration(value: Any) -> datetime:
        if not isinstance(value, str):
            raise bad("expirationDateTime is a required property.", "InvalidRequest")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
                      "BadRequest") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        now = _now()
        if moment <= now:
            raise bad("Subscription expiration must be in the future.", "InvalidRequest")
        if moment > now + timedelta(minutes=MAX_MINUTES):
            raise bad(f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.", "InvalidRequest")
        return moment

    @staticmethod
    def _address(value: Any, name: str) -> str:
        try:
            return pushable(value, name)
        except ValueError:
            raise bad(f"The {name} must be an https URL: {value!r}.", "InvalidRequest") from None

    async def create(self, body: Any, base: str) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("__invalid__"):
            raise bad("Invalid request body.", "BadRequest")
        for required in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(required):
                raise bad(f"{required} is a required property.", "InvalidRequest")
        changes = tuple(c.strip() for c in str(body["changeType"]).split(","))
        if not changes or any(c not in CHANGE_TYPES for c in changes):
            raise bad(f"'{body['changeType']}' is not a valid change type.", "InvalidRequest")
        match = RESOURCE.fullmatch(str(body["resource"]))
        if match is None:
            raise bad(f"Resource '{body['resource']}' is not supported.", "ExtensionError")
        # me/events is the whole mailbox (every calendar); calendar/events the default one.
        calendar = (unquote(match["cid"]) if match["cid"] else None) or (self.default_calendar if "/calendar/" in str(body["resource"]).lower() else None)
        if calendar is not None and calendar not in self.calendars:
            raise GraphFault(404, "ResourceNotFound", f"Resource '{body['resource']}' was not found.")
        if body.get("includeResourceData") and not body.get("encryptionCertificate"):
            raise bad("A certificate is required to include resource data.", "InvalidRequest")
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
            raise bad("clientState must be a string of at most 128 characters.", "InvalidRequest")
        expiration = self._expiration(body["expirationDateTime"])
        url = self._address(body["notificationUrl"], "notificationUrl")
        lifecycle = self._address(body["lifecycleNotificationUrl"], "lifecycleNotificationUrl") \
            if body.get("lifecycleNotificationUrl") else None
        for address in (url, lifecycle):
            if address is not None and not await self._handshake(address):
                raise bad("Subscription validation request failed. Notification endpoint must respond with 200 OK "
                          "to validation request.", "ValidationError")
        sub = Subscription(str(uuid.uuid4()), str(body["resource"]), calendar, changes, url, lifecycle, client_state,
                           expiration)
        self.subs[sub.id] = sub
        return self.view(sub, base)

    async def _handshake(self, address: str) -> bool:
        token = secrets.token_urlsafe(96)  # Graph's tokens are opaque, a few hundred characters
        outcome: dict[str, Any] = {"address": address, "status": None, "ok": False}
        try:
            async with httpx.AsyncClient(timeout=HANDSHAKE_TIMEOUT) as client:
                answer = await client.post(address, params={"validationToken": token},
                                           headers={"Content-Type": "text/plain; charset=utf-8"}, content=b"")
            outcome["status"] = answer.status_code
            outcome["ok"] = (answer.status_code == 200 and answer.text == token
                             and answer.headers.get("content-type", "").startswith("text/plain"))
        except httpx.HTTPError as exc:
            log.info("sandbox validation of %s failed: %s", address, exc)
        self.handshakes.append(outcome)
        return outcome["ok"]

    def renew(self, sub_id: str, body: Any, base: str) -> dict[str, Any]:
        sub = self.live(sub_id)
        if not isinstance(body, dict) or body.get("__invalid__"):
            raise bad("Invalid request body.", "BadRequest")
        if "expirationDateTime" in body:
            sub.expiration = self._expiration(body["expirationDateTime"])
        if body.get("notificationUrl"):
            sub.notification_url = self._address(body["notificationUrl"], "notificationUrl")
        return self.view(sub, base)

    def delete(self, sub_id: str) -> None:
        self.live(sub_id)
        del self.subs[sub_id]
        self.removed.append(sub_id)

    # -- notifications ---------------------------------------------------------------------
    def changed(self, change: str, calendar: str, event: dict[str, Any]) -> None:
        """An event changed: one item for each live subscription that watches its calendar
        and this kind of change; sent once the request that changed it is done."""
        for sub in self.listing():
            if change not in sub.change_types or (sub.calendar is not None and sub.calendar != calendar):
                continue
            path = f"Users/{self.user_id}/Events/{event['id']}"
            data = {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": path, "id": event["id"]}
            if change != "deleted":
                data["@odata.etag"] = event.get("@odata.etag")
            self._queue(sub, {"changeType": change, "resource": path, "resourceData": data})

    def _queue(self, sub: Subscription, item: dict[str, Any]) -> None:
        first = sub.id not in self._queued
        self._queued.setdefault(sub.id, []).append(item)
        if first:
            self.out.spawn(self._later(sub.id))

    async def _later(self, sub_id: str) -> None:
        await asyncio.sleep(0)  # the rest of the request's changes join this POST
        items = self._queued.pop(sub_id, [])
        sub = self.subs.get(sub_id)
        if sub is not None and items:
            await self._deliver(sub, sub.notification_url, [self._item(sub, i) for i in items], "change")

    def _item(self, sub: Subscription, extra: dict[str, Any]) -> dict[str, Any]:
        item = {"subscriptionId": sub.id, "subscriptionExpirationDateTime": _stamp(sub.expiration),
                "tenantId": self.tenant_id, **extra}
        if sub.client_state is not None:
            item["clientState"] = sub.client_state
        return item

    def lifecycle(self, sub_id: str | None, event: str) -> int:
        """Send ``event`` to the lifecycle address of one subscription (all without an id)."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycleEvent must be one of {', '.join(LIFECYCLE_EVENTS)}")
        sent = 0
        for sub in self.listing():
            if sub_id not in (None, sub.id) or sub.lifecycle_url is None:
                continue
            if event == "subscriptionRemoved":
                del self.subs[sub.id]
                self.removed.append(sub.id)
            self.out.spawn(self._deliver(sub, sub.lifecycle_url, [self._item(sub, {"lifecycleEvent": event})], event))
            sent += 1
        return sent

    async def _deliver(self, sub: Subscription, address: str, items: list[dict[str, Any]], kind: str) -> None:
        if sub.expiration <= _now() and kind == "change":
            self.subs.pop(sub.id, None)  # an expired subscription delivers nothing
            return
        sub.sent += 1
        record = {"subscription": sub.id, "kind": kind, "items": len(items), "number": sub.sent}
        if self.out.take("drop"):
            self.out.deliveries.append({**record, "status": None, "dropped": True})
            return
        times = 2 if self.out.take("duplicate") else 1
        await self.out.pause()
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(times):
                try:
                    status = (await client.post(address, json={"value": items})).status_code
                except httpx.HTTPError as exc:
                    status = None
                    log.info("sandbox notification to %s failed: %s", address, exc)
                self.out.deliveries.append({**record, "status": status, "dropped": False})

    async def settle(self) -> None:
        """Wait for the notifications under way (tests read the deliveries after)."""
        await self.out.settle()

    # -- controls --------------------------------------------------------------------------
    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        self.out.configure(data)
        return self.describe()

    def expire(self, sub_id: str | None) -> int:
        expired = 0
        for sub in self.subs.values():
            if sub_id in (None, sub.id):
                sub.expiration = _now() - timedelta(seconds=1)
                expired += 1
        return expired

    def describe(self) -> dict[str, Any]:
        return {"subscriptions": [{**self.view(s, ""), "messages": s.sent} for s in self.listing()],
                "removed": list(self.removed), **self.out.describe(), "handshakes": list(self.handshakes)}
