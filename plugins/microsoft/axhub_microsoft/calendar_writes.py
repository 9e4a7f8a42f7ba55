"""The Outlook adapter's writes: creates, updates and deletes in JSON batches at
``/$batch`` (matched back by id, the throttled and transient ones sent again), the
hub's category ensured first, and a Teams meeting's options applied after its event."""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import quote

import msgspec

from axhub import (
    Again,
    InvalidCredentials,
    ProviderError,
    ProviderPermissionDenied,
    WriteOp,
    WriteResult,
    retry_after,
    settle_calls,
    with_retries,
)

from .graph import graph_error
from .outlook_events import ATTEMPTS, CATEGORY, MAX_BATCH, UTC_PREFER, _Batch, _by_join_url, _Event, _Reply, transaction_id


class OutlookWrites:
    """The writing part of :class:`~axhub_microsoft.calendar.OutlookCalendar` (it uses
    the adapter's context, connection, settings and calendar path set up there)."""

    async def _ensure_category(self) -> None:
        """Our category in the user's master list, with the colour the settings ask
        (needs MailboxSettings.ReadWrite; without it events still carry the category)."""
        if self._category_checked or not self.categories:
            return
        self._category_checked = True
        token = await self.connection.access_token()
        url = f"{self.graph}/me/outlook/masterCategories"
        try:
            listed = (await self.ctx.call("GET", url, token=token, errors=graph_error)).json().get("value") or []
            if not any((c.get("displayName") or "").lower() == CATEGORY.lower() for c in listed):
                await self.ctx.call("POST", url, token=token, errors=graph_error,
                                    json={"displayName": CATEGORY, "color": self.color})
        except ProviderPermissionDenied:
            pass

    def _request(self, key: int, op: WriteOp, kind: str) -> dict[str, Any]:
        if kind == "create":
            body = {**self.to_graph(op.data), **self.online(op.data),  # type: ignore[arg-type]
                    "transactionId": transaction_id(self.connection.id, op.event_id, op.version)}
            return {"id": str(key), "method": "POST", "url": f"{self.base}/events",
                    "headers": {"Content-Type": "application/json", "Prefer": UTC_PREFER}, "body": body}
        url = f"/me/events/{quote(op.external_id or '', safe='')}"
        if kind == "update":
            return {"id": str(key), "method": "PATCH", "url": url,
                    "headers": {"Content-Type": "application/json", "Prefer": UTC_PREFER}, "body": self.to_graph(op.data)}  # type: ignore[arg-type]
        return {"id": str(key), "method": "DELETE", "url": url}

    async def _send(self, requests: list[dict[str, Any]]) -> dict[str, _Reply]:
        payload = msgspec.json.encode({"requests": requests})

        async def once() -> dict[str, _Reply]:
            token = await self.connection.access_token()
            response = await self.ctx.call("POST", f"{self.graph}/$batch", token=token, content=payload, errors=graph_error,
                                           headers={"Content-Type": "application/json"})
            replies = {r.id: r for r in msgspec.json.decode(response.content, type=_Batch).responses}
            missing = {r["id"] for r in requests} - set(replies)
            for key in missing:  # unanswered: tried again like a transient failure
                replies[key] = _Reply(id=key, status=503)
            return replies

        return await with_retries(once, attempts=ATTEMPTS)

    async def write(self, ops: Sequence[WriteOp]) -> list[WriteResult]:
        if any(op.kind != "delete" for op in ops):
            await self._ensure_category()
        kinds = {i: op.kind for i, op in enumerate(ops)}  # an update of a vanished event becomes a create
        last: dict[int, int] = {}  # the status of Graph's latest answer to each op, for the code of an unsettled one

        async def round_trip(pending: list[int]) -> dict[int, WriteResult | Again]:
            replies = await self._send([self._request(i, ops[i], kinds[i]) for i in pending])
            outcomes: dict[int, WriteResult | Again] = {}
            for i in pending:
                reply = replies[str(i)]
                last[i] = reply.status
                outcome = self._outcome(kinds[i], ops[i], reply)
                if outcome == "recreate":
                    kinds[i] = "create"
                    outcome = Again()
                outcomes[i] = outcome
            return outcomes

        done, unsettled = await settle_calls(list(range(len(ops))), round_trip, attempts=ATTEMPTS)
        for i in unsettled:
            throttled = last.get(i) == 429
            done[i] = WriteResult(ok=False, error_code="RATE_LIMIT_EXCEEDED" if throttled else "SYNC_FAILED",
                                  error=f"Microsoft Graph kept answering {last.get(i, 503)} to this request; "
                                        "it is retried next sync")
        made = [done[i] for i in range(len(ops)) if kinds[i] == "create" and done[i].ok and done[i].meeting]
        if made:
            await self._apply_options(made)  # type: ignore[arg-type]
        return [done[i] for i in range(len(ops))]

    # -- Teams meetings ----------------------------------------------------------------
    async def _each(self, requests: list[dict[str, Any]]) -> list[_Reply | None]:
        """Requests in $batch round trips, each sent again while throttled or failing
        transiently: the final reply of each (None: it never settled)."""
        async def round_trip(pending: list[int]) -> dict[int, _Reply | Again]:
            replies = await self._send([{**requests[i], "id": str(i)} for i in pending])
            out: dict[int, _Reply | Again] = {}
            for i in pending:
                reply = replies[str(i)]
                if reply.status in (429, 500, 502, 503, 504):
                    out[i] = Again(retry_after({k.lower(): v for k, v in reply.headers.items()}))
                else:
                    out[i] = reply
            return out

        done: dict[int, _Reply] = {}
        for start in range(0, len(requests), MAX_BATCH):
            chunk = list(range(start, min(start + MAX_BATCH, len(requests))))
            settled, _ = await settle_calls(chunk, round_trip, attempts=ATTEMPTS)
            done.update(settled)
        return [done.get(i) for i in range(len(requests))]

    async def _apply_options(self, results: list[WriteResult]) -> None:
        """defaultMeetingSettings on the meetings just made. Graph reaches an event's
        meeting only through its join URL (``/me/onlineMeetings?$filter=JoinWebUrl eq``),
        then PATCHes it (both need OnlineMeetings.ReadWrite). A meeting whose options could
        not be set stays, with Teams' defaults, and says so (``optionsApplied: false``):
        the event itself was written."""
        try:
            found = await self._each([{"method": "GET", "url": _by_join_url(r.meeting["joinUrl"])}  # type: ignore[index]
                                      for r in results])
            ids = [((reply.body or {}).get("value") or [{}])[0].get("id") if reply and reply.status == 200 else None
                   for reply in found]
            for result, meeting_id in zip(results, ids):
                result.meeting["id"] = meeting_id  # type: ignore[index]
            targets = [(r, i) for r, i in zip(results, ids) if i]
            options = self.meeting_options()
            patched = await self._each([{
                "method": "PATCH", "url": f"/me/onlineMeetings/{quote(meeting_id, safe='')}",
                "headers": {"Content-Type": "application/json"}, "body": options,
            } for _, meeting_id in targets])
            for (result, _), reply in zip(targets, patched):
                result.meeting["optionsApplied"] = reply is not None and 200 <= reply.status < 300  # type: ignore[index]
        except InvalidCredentials:
            raise  # the grant is dead: the run says reconnect
        except ProviderError:
            # The meetings exist; their options stay Teams' defaults (optionsApplied: false).
            return

    def _meeting(self, event: _Event) -> dict[str, Any] | None:
        if not (event.isOnlineMeeting and event.onlineMeeting and event.onlineMeeting.joinUrl):
            return None
        return {"provider": "microsoft", "onlineMeetingProvider": "teamsForBusiness", "id": None,
                "joinUrl": event.onlineMeeting.joinUrl, "conferenceId": event.onlineMeeting.conferenceId,
                "optionsApplied": False}

    def _outcome(self, kind: str, op: WriteOp, reply: _Reply) -> WriteResult | Again | str:
        body = reply.body if isinstance(reply.body, dict) else {}
        if 200 <= reply.status < 300:
            if kind == "delete":
                return WriteResult(ok=True, external_id=op.external_id)
            event = msgspec.convert(body, _Event)
            result = WriteResult(ok=True, external_id=event.id, etag=event.changeKey, updated=event.lastModifiedDateTime)
            if kind == "create" and self.meetings:
                meeting = self._meeting(event)
                if meeting is not None:  # no Teams on this calendar: a plain event, nothing stored
                    result.meeting = meeting
            return result
        if reply.status in (429, 500, 502, 503, 504):
            headers = {k.lower(): v for k, v in reply.headers.items()}
            return Again(retry_after(headers))
        if reply.status == 404 and kind == "delete":
            return WriteResult(ok=True, external_id=op.external_id)  # already gone
        if reply.status == 404 and kind == "update":
            return "recreate"
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = {401: "INVALID_CREDENTIALS", 403: "PERMISSION_DENIED"}.get(reply.status, "SYNC_FAILED")
        return WriteResult(ok=False, error_code=code,
                           error=f"Microsoft Graph answered {reply.status}: {error.get('message') or error.get('code') or 'no detail'}")
