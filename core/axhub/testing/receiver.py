"""A real HTTP receiver on loopback for outbound deliveries (webhooks, chat posts): it
records every request and answers what the test scripts, so that retries, redirects,
``Retry-After`` and ``410 Gone`` run over real sockets."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import threading
import time
from typing import Any, Callable

from . import free_port


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float  # when it was answered (time.time())
    arrived: float = 0.0  # when it came in: [arrived, at] is the time it was in flight here
    client: tuple[str, int] | None = None  # the sender's end of the connection
    sender: str | None = None  # who sent it, when the receiver was given ``identify``


@dataclasses.dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    """``url`` to point endpoints at; ``script(*answers)`` queues answers (an int is a
    status), after which it answers ``default``, or what ``answer(path, headers)``
    chooses; ``requests`` is what came in.

    ``identify(client, server)`` names the sender of a request from the two ends of its
    connection (e.g. :func:`axhub.testing.processes.socket_owner`). It runs in a thread
    while the request is in flight, since the connection has to be open to be traced."""

    def __init__(self, default: Answer | None = None, *, answer: Callable[[str, dict[str, str]], Answer] | None = None,
                 identify: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.default = default or Answer()
        self.answer = answer
        self.identify = identify
        self.requests: list[Received] = []
        self._script: collections.deque[Answer] = collections.deque()
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None

    def script(self, *answers: Answer | int) -> None:
        with self._lock:
            self._script.extend(a if isinstance(a, Answer) else Answer(status=a) for a in answers)

    def _next(self, path: str, headers: dict[str, str]) -> Answer:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.answer(path, headers) if self.answer else self.default

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        arrived = time.time()
        client = tuple(scope["client"]) if scope.get("client") else None
        sender = None
        if self.identify and client and scope.get("server"):
            sender = asyncio.ensure_future(asyncio.to_thread(self.identify, client, tuple(scope["server"])))
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The sender went away before its request was whole (e.g. it was killed):
                # nothing was delivered, so nothing is recorded.
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        answer = self._next(scope["path"], headers)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if sender is not None:
            sender = await sender
        self.requests.append(Received(scope["path"], headers, body, answer.status, time.time(), arrived, client, sender))
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": [(k.encode(), v.encode()) for k, v in answer.headers.items()]})
        await send({"type": "http.response.body", "body": answer.body})

    def start(self) -> "Receiver":
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on", access_log=False))
        self._thread = threading.Thread(target=self._server.run, name=f"receiver-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
        self.requests.clear()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} requests arrived")
            time.sleep(0.01)
        return self.requests

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
