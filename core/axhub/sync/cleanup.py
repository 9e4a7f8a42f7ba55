"""Disconnect clean-up for calendar plugins: remove exactly the events the hub created."""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from ..errors import ProviderError
from .adapter import CalendarAdapter, RemoteEvent, WriteOp


async def remove_created(adapter: CalendarAdapter, list_ours: Callable[[], Awaitable[Sequence[RemoteEvent]]] | None,
                         where: str) -> tuple[int, tuple[str, ...]]:
    """Delete, in the adapter's batches, the events ``list_ours`` finds (those carrying an
    Attendance-X id; None: the adapter's full listing, ``changes(None)``). Returns how many
    went and notes for ``cleanupStatus`` on what did not (``where`` names the calendar:
    "Google Calendar", "Outlook")."""
    removed = failed = 0
    try:
        listed = await list_ours() if list_ours is not None else [
            item async for page in adapter.changes(None) for item in page.items]
        ours = [item for item in listed if item.local_id and not item.deleted]
        size = max(1, adapter.batch_size)
        for start in range(0, len(ours), size):
            chunk = ours[start:start + size]
            results = await adapter.write([WriteOp("delete", item.local_id or "", item.external_id) for item in chunk])
            removed += sum(1 for r in results if r.ok)
            failed += sum(1 for r in results if not r.ok)
    except ProviderError as exc:
        return removed, (f"the hub's events were left in {where}: {exc.message}",)
    return removed, (f"{failed} events the hub created could not be removed from {where}",) if failed else ()
