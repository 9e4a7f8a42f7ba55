"""Every HTTP call a plugin makes to its provider, timed and sized in one place.

The shared client (``ctx.http``) and the OAuth client (``ctx.oauth_client()``) both
send through :class:`MeteredTransport`, so no plugin can forget to be measured. A call
is attributed to the organisation, integration and provider the core is working for
(:func:`attribute`, set by :class:`axhub.plugins.Hub` around each hook call, kept for
the rest of that task: a sync adapter's later calls count for the same integration).

Calls are buffered and written in batches (:class:`CallRecorder`): a provider call
never waits for a database write. A process killed between two flushes loses at most a
second of these figures — they are metrics, not data.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from datetime import datetime, timezone
from typing import Any

import httpx

from .http import new_transport

log = logging.getLogger("axhub.metering")

FLUSH_EVERY = 1.0  # seconds
FLUSH_AT = 1000  # buffered calls


@dataclasses.dataclass(frozen=True)
class Attribution:
    provider: str
    org_id: str | None = None
    integration_id: str | None = None


current: contextvars.ContextVar[Attribution | None] = contextvars.ContextVar("axhub_metering", default=None)


def attribute(provider: str, org_id: str | None = None, integration_id: str | None = None) -> None:
    """Count the provider calls made from here on, in this task, for this integration."""
    current.set(Attribution(provider, org_id, integration_id))


class CallRecorder:
    """Buffers finished calls and writes them to ``provider_calls`` in batches."""

    def __init__(self, db) -> None:
        self.db = db
        self.buffer: list[dict[str, Any]] = []
        self._flusher: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def add(self, who: Attribution, request: httpx.Request, *, status: int, seconds: float,
            bytes_in: int, error: str | None = None) -> None:
        if who.org_id is None:
            return  # not on behalf of an organisation (sandbox control, health checks)
        self.buffer.append({
            "at": datetime.now(timezone.utc), "org_id": who.org_id, "integration_id": who.integration_id,
            "provider": who.provider, "method": request.method, "host": request.url.host[:255],
            "status": status, "duration_ms": round(seconds * 1000, 2),
            "bytes_out": _request_size(request), "bytes_in": bytes_in, "error": error,
        })
        if len(self.buffer) >= FLUSH_AT:
            self._schedule(0)
        elif self._flusher is None:
            self._schedule(FLUSH_EVERY)

    def _schedule(self, delay: float) -> None:
        if self._flusher is not None and delay > 0:
            return
        try:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_after(delay))
        except RuntimeError:  # no loop (a synchronous caller): the next flush() takes them
            pass

    async def _flush_after(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            await self.flush()
        except Exception:  # noqa: BLE001 - metrics must never break a call
            log.exception("could not record provider calls")
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None

    async def flush(self) -> None:
        """Write what is buffered (analytics calls it first, to count the latest calls)."""
        from sqlalchemy import insert

        from .db import ProviderCall

        async with self._lock:
            rows, self.buffer = self.buffer, []
            if rows:
                async with self.db.session() as s, s.begin():
                    await s.execute(insert(ProviderCall.__table__), rows)

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self.flush()


def _request_size(request: httpx.Request) -> int:
    try:
        return len(request.content)
    except httpx.RequestNotRead:  # a streamed upload: what it declared
        return int(request.headers.get("content-length") or 0)


class _CountedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done) -> None:
        self.inner = inner
        self.done = done
        self.size = 0

    async def __aiter__(self):
        async for chunk in self.inner:
            self.size += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            done, self.done = self.done, None
            if done is not None:
                done(self.size)


class MeteredTransport(httpx.AsyncBaseTransport):
    """Times each call from sending to the last byte of the answer, and sizes both ways."""

    def __init__(self, recorder: CallRecorder, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.recorder = recorder
        # A client handed this transport ignores its own ``limits``: the pool is sized here.
        self.inner = inner or new_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        who = current.get()
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except Exception as exc:
            if who is not None:
                self.recorder.add(who, request, status=0, seconds=time.perf_counter() - started, bytes_in=0,
                                  error=type(exc).__name__)
            raise
        if who is None:
            return response

        def done(size: int) -> None:
            self.recorder.add(who, request, status=response.status_code, seconds=time.perf_counter() - started,
                              bytes_in=size)

        response.stream = _CountedStream(response.stream, done)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
