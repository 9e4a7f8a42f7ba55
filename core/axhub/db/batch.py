"""Group commit: callers that arrive while a write is in flight share the next one, so
a burst of small writes costs a few transactions instead of one each."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[list[Any]]], max_batch: int = 500) -> None:
        self._flush = flush
        self._max = max_batch
        self._queue: list[tuple[T, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def submit(self, item: T) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max:]
            try:
                results = await self._flush([item for item, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiter hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)
