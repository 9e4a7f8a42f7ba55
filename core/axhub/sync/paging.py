"""Paging a provider's listing with the next page asked for ahead.

A calendar listing is a chain of pages, each naming the next. Asking for page n+1 as soon
as page n names it, before the caller maps and stores page n, lets the provider build the
next page while the hub works: a full sync then costs about the slower of the two sides
rather than their sum.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

P = TypeVar("P")


async def read_ahead(get: Callable[[Any], Awaitable[P]], first: Any, next_of: Callable[[P], Any | None]) -> AsyncIterator[P]:
    """Yield ``get(first)``, then ``get(next_of(page))`` while ``next_of`` names a next
    page; each next page is already being fetched while the caller handles the current one.
    A caller that stops early (or fails) leaves no fetch running."""
    ahead: asyncio.Future[P] | None = None
    try:
        page = await get(first)
        while True:
            following = next_of(page)
            ahead = asyncio.ensure_future(get(following)) if following is not None else None
            yield page
            if ahead is None:
                return
            page, ahead = await ahead, None
    finally:
        if ahead is not None:
            # Retrieve its outcome so that a failure of the dropped fetch is not reported
            # as "never retrieved".
            ahead.add_done_callback(lambda task: task.cancelled() or task.exception())
            ahead.cancel()
