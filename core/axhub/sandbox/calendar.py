"""An in-memory calendar with what every calendar sandbox needs: :class:`CalendarStore`.

A calendar provider's sandbox is then its routes and its field mapping: the store keeps
the events (in the provider's own field names, which it never reads), pages listings,
hands out sync cursors that list only what changed since (deletions as tombstones),
refuses an expired cursor (the route answers the provider's ``410``), accepts a
client-chosen id once (a create retried after a crash is a conflict, not a duplicate),
counts writes, and serves the ``/_control/calendar`` routes tests drive it through
(``axhub.testing.calendar.SandboxCalendar`` is the :class:`RemoteCalendar` over them).
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timezone
from typing import Any, Callable

from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody


class CursorGone(Exception):
    """The cursor was made before :meth:`CalendarStore.expire_cursors`: answer the
    provider's "sync again from scratch" (Google's 410 ``fullSyncRequired``)."""


class Conflict(Exception):
    """An event with this client-chosen id exists already (answer 409)."""


@dataclasses.dataclass
class StoredEvent:
    """One event: ``fields`` in the provider's names; ``deleted`` events stay as tombstones
    so that incremental listings report them."""

    id: str
    fields: dict[str, Any]
    etag: str
    updated: str  # RFC 3339, UTC
    seq: int
    deleted: bool = False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CalendarStore:
    """``user_event(title, start, end)`` makes the provider's fields for an event a user
    creates through the control routes (ISO 8601 times); ``title_field`` is the field
    that holds its title (``summary`` at Google, ``subject`` at Graph)."""

    def __init__(self, user_event: Callable[[str, str, str], dict[str, Any]], *, title_field: str = "title",
                 page_size: int = 50) -> None:
        self.user_event, self.title_field, self.page_size = user_event, title_field, page_size
        self.reset()

    def reset(self) -> None:
        """Forget every event, cursor and count."""
        self.events: dict[str, StoredEvent] = {}
        self._last_seq = 0
        self.epoch = secrets.token_hex(4)
        self.writes = 0

    def __getstate__(self) -> dict[str, Any]:
        # What a restart keeps (axhub.sandbox.persist): the data, not the field mapping.
        return {"events": self.events, "_last_seq": self._last_seq, "epoch": self.epoch, "writes": self.writes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)

    def _stamp(self, event: StoredEvent) -> StoredEvent:
        self._last_seq += 1
        event.seq, event.updated, event.etag = self._last_seq, _now(), f'"{secrets.token_hex(8)}"'
        return event

    def live(self) -> list[StoredEvent]:
        """The events not deleted, oldest first."""
        return [e for e in self.events.values() if not e.deleted]

    def get(self, event_id: str) -> StoredEvent | None:
        """A live event, or None."""
        event = self.events.get(event_id)
        return event if event is not None and not event.deleted else None

    def insert(self, fields: dict[str, Any], event_id: str | None = None, *, user: bool = False) -> StoredEvent:
        """Store a new event under ``event_id`` (the client's, for idempotent creates) or a
        new id; raises :class:`Conflict` when that id was ever used. ``user``: a change of
        the calendar's user (the control routes), not counted among the client's writes."""
        if event_id is not None and event_id in self.events:
            raise Conflict(event_id)
        self.writes += not user
        event = StoredEvent(event_id or secrets.token_hex(10), dict(fields), "", "", 0)
        self.events[event.id] = self._stamp(event)
        return event

    def update(self, event_id: str, fields: dict[str, Any], *, user: bool = False) -> StoredEvent | None:
        """Merge ``fields`` into a live event (a PATCH); None when there is none."""
        event = self.get(event_id)
        if event is None:
            return None
        self.writes += not user
        event.fields.update(fields)
        return self._stamp(event)

    def delete(self, event_id: str, *, user: bool = False) -> bool:
        """Delete a live event (it stays as a tombstone); False when there is none."""
        event = self.get(event_id)
        if event is None:
            return False
        self.writes += not user
        event.deleted = True
        self._stamp(event)
        return True

    def listing(self, cursor: str | None, page: str | None) -> tuple[list[StoredEvent], str | None, str | None]:
        """One page: (events, the next page's token or None, the new cursor on the last
        page). Without ``cursor``, the live events; with one, every change since it,
        deletions included. Raises :class:`CursorGone` for a cursor :meth:`expire_cursors`
        made stale, and ``ValueError`` for a token that is not one of the store's."""
        since, upto, offset = 0, None, 0
        if page:  # "since.upto.offset": a listing's pages see the store as its first did
            since, upto, offset = (int(x) for x in page.split("."))
        elif cursor:
            epoch, _, seq = cursor.partition(".")
            if epoch != self.epoch:
                raise CursorGone(cursor)
            since = int(seq)
        upto = upto if upto is not None else max((e.seq for e in self.events.values()), default=0)
        changed = sorted((e for e in self.events.values() if since < e.seq <= upto and (since or not e.deleted)),
                         key=lambda e: e.seq)
        items = changed[offset:offset + self.page_size]
        if offset + self.page_size < len(changed):
            return items, f"{since}.{upto}.{offset + self.page_size}", None
        return items, None, f"{self.epoch}.{upto}"

    def expire_cursors(self) -> None:
        """Every cursor handed out so far is refused from now on."""
        self.epoch = secrets.token_hex(4)

    def control_routes(self) -> list[Any]:
        """``/_control/calendar/…``: the calendar as its user sees and changes it (events:
        id → title; create, rename, delete one), ``expire-cursors`` and ``writes``."""

        @get("/_control/calendar/events", sync_to_thread=False)
        def events() -> dict[str, Any]:
            return {"events": {e.id: e.fields.get(self.title_field) for e in self.live()}}

        @post("/_control/calendar/events", status_code=201, sync_to_thread=False)
        def create(data: JSONBody[dict[str, str]]) -> dict[str, Any]:
            return {"id": self.insert(self.user_event(data["title"], data["start"], data["end"]), user=True).id}

        @patch("/_control/calendar/events/{event_id:str}", sync_to_thread=False)
        def rename(event_id: FromPath[str], data: JSONBody[dict[str, str]]) -> Response:
            found = self.update(event_id, {self.title_field: data["title"]}, user=True)
            return Response({"ok": found is not None}, status_code=200 if found else 404)

        @delete("/_control/calendar/events/{event_id:str}", status_code=200, sync_to_thread=False)
        def remove(event_id: FromPath[str]) -> dict[str, Any]:
            return {"ok": self.delete(event_id, user=True)}

        @post("/_control/calendar/expire-cursors", status_code=200, sync_to_thread=False)
        def expire() -> dict[str, Any]:
            self.expire_cursors()
            return {"ok": True}

        @get("/_control/calendar/writes", sync_to_thread=False)
        def writes() -> dict[str, Any]:
            return {"writes": self.writes}

        return [events, create, rename, remove, expire, writes]
