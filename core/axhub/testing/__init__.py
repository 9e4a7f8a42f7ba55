"""Testing helpers for the hub and for plugin authors (``axhub[testing]``).

:class:`HubServer` runs a real hub (uvicorn on a loopback port, a real database, the
plugins' sandboxes mounted in-process) in a background thread; tests talk to it over
HTTP like the Attendance-X app does. :func:`connect` walks the whole OAuth flow.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import httpx

from ..auth import create_token
from ..config import Config

__all__ = ["Clock", "HubServer", "begin_connect", "connect", "connect_synced", "finish_connect", "follow_consent",
           "free_port", "integration", "notify", "run_connection_test", "run_sync", "wait_for_sync", "wait_until",
           "wait_until_up"]


class Clock:
    """A clock a test moves by hand: give it to :class:`HubServer` (``clock=``) and the
    hub's signals, deliveries and retries read it instead of the wall clock."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds``; the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60, proc: Any = None) -> None:
    """Wait for a server started in another process (``proc``, a Popen: its exit fails at
    once, with its output) to answer ``url`` (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode() if proc.stdout else f"the server exited ({proc.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


class HubServer:
    """A hub served by uvicorn on 127.0.0.1 in a thread, with its own event loop."""

    def __init__(self, database_url: str, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.port = port or free_port()
        self.clock = clock
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "AXHUB_DATA_DIR": str(data_dir),
            "AXHUB_DATABASE_URL": database_url,
            "AXHUB_SANDBOX": "1",
            "AXHUB_PUBLIC_URL": self.url,
            # Scheduled jobs (automatic syncs every syncInterval…) would fire in the middle
            # of unrelated tests; the scheduler's own tests turn them on (make_hub).
            "AXHUB_SCHEDULER": "0",
            # Likewise the providers' change notifications (each one a sync): the push
            # tests turn them on (make_hub({"AXHUB_PUSH": "auto"})).
            "AXHUB_PUSH": "0",
            **(env or {}),
        }
        self.config = Config.from_env(self.env)
        self._thread: threading.Thread | None = None
        self._server = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = None

    def start(self) -> "HubServer":
        """Start the hub on its loopback port (uvicorn in a thread) and wait until it answers."""
        import uvicorn

        from ..api.app import create_app
        from ..api.wiring import build_services

        services = build_services(self.config, clock=self.clock) if self.clock else None
        self.app = create_app(self.config, services=services)
        self.services = self.app.state.services
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._server.serve())

        self._thread = threading.Thread(target=run, name=f"axhub-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the hub and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

    def run(self, coro) -> Any:
        """Run a coroutine on the hub's own loop (its database engine lives there)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def rows(self, model: Any) -> list:
        """Every row of ``model``'s table (an ``axhub.db`` model), for a test that checks
        what the hub stored (and, as often, what it did not)."""
        from sqlalchemy import select

        async def read() -> list:
            async with self.services.db.session() as s:
                return list((await s.scalars(select(model))).all())
        return self.run(read())

    # -- callers -----------------------------------------------------------------------
    def token(self, role: str = "admin", org: str = "org-1", user: str = "user-1", **claims: Any) -> str:
        """A Bearer JWT the hub accepts, for ``role`` (``admin``, ``manager``, ``member``) in
        ``org``."""
        return create_token(self.config.jwt_secret, org=org, role=role, user=user,
                            name=claims.get("name", "Marie Dubois"), email=claims.get("email", "marie.dubois@techcorp.com"),
                            ttl=claims.get("ttl", 3600), now=claims.get("now"))

    def client(self, role: str = "admin", org: str = "org-1", user: str = "user-1", **claims: Any) -> httpx.Client:
        """An HTTP client on the hub carrying :meth:`token` (``with hub.client("manager") as
        api: …``)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token(role, org, user, **claims)}"}, timeout=30)

    def anonymous(self) -> httpx.Client:
        """An HTTP client on the hub with no token."""
        return httpx.Client(base_url=self.url, timeout=30)

    def sandbox(self, slug: str) -> httpx.Client:
        """A client on the provider's sandbox (``/_control`` for faults and counters)."""
        return httpx.Client(base_url=f"{self.services.hub.sandbox_base}/{slug}", timeout=30)

    def reset(self) -> None:
        """Empty the database and every sandbox: a clean slate between tests."""
        from sqlalchemy import delete

        from ..db import Base

        async def wipe() -> None:
            async with self.services.db.session() as s, s.begin():
                for table in reversed(Base.metadata.sorted_tables):
                    await s.execute(delete(table))

        # Background work of the previous test (an initial sync, a notification) finishes
        # first: wiping under it would fail it, or the wipe, at random.
        self.run(self.services.tasks.drain())
        self.run(self.services.recorder.flush())  # the previous test's provider calls, then wiped
        self.run(wipe())
        if self.services.scheduler.running:  # schedules follow the (now empty) database
            self.run(self.services.scheduler.reconcile())
        with httpx.Client(timeout=30) as c:
            for slug, _ in self.services.hub.sandboxes():
                c.post(f"{self.services.hub.sandbox_base}/{slug}/_control/reset")


def follow_consent(auth_url: str, **extra: str) -> dict[str, str]:
    """Open the provider's consent page (the sandbox approves at once) and read the
    redirect back to the app: ``{"code": …, "state": …}`` or ``{"error": …}``."""
    if extra:
        sep = "&" if "?" in auth_url else "?"
        auth_url += sep + "&".join(f"{k}={v}" for k, v in extra.items())
    response = httpx.get(auth_url, follow_redirects=False, timeout=30)
    if response.status_code not in (301, 302, 303, 307):
        raise AssertionError(f"consent page answered {response.status_code}: {response.text[:300]}")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def connect(client: httpx.Client, provider: str, **body: Any) -> dict[str, Any]:
    """The whole OAuth connection through the hub's API: connect, consent, callback.
    Returns the callback's ``data``."""
    started = client.post(f"/api/integrations/{provider}/connect", json=body)
    assert started.status_code == 200, started.text
    data = started.json()["data"]
    if "authUrl" not in data:
        return data
    back = follow_consent(data["authUrl"])
    assert back.get("state") == data["state"], back
    done = client.post(f"/api/integrations/{provider}/callback", json={"code": back["code"], "state": back["state"]})
    assert done.status_code == 200, done.text
    return done.json()["data"]


def begin_connect(client: httpx.Client, *, provider: str, **body: Any) -> dict[str, Any]:
    """``POST /{provider}/connect``, asserted 200: its ``data`` (``authUrl``, ``state``…)."""
    response = client.post(f"/api/integrations/{provider}/connect", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def finish_connect(client: httpx.Client, code: str, state: str, *, provider: str) -> httpx.Response:
    """``POST /{provider}/callback`` with the redirect's code and state (not asserted)."""
    return client.post(f"/api/integrations/{provider}/callback", json={"code": code, "state": state})


def run_connection_test(client: httpx.Client, integration_id: str) -> dict[str, Any]:
    """``POST /{id}/test``, asserted 200: its ``data``."""
    response = client.post(f"/api/integrations/{integration_id}/test")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def integration(client: httpx.Client, integration_id: str) -> dict[str, Any]:
    """``GET /{id}``: the integration's view."""
    return client.get(f"/api/integrations/{integration_id}").json()["data"]


FINISHED = ("completed", "partial", "failed")


def wait_for_sync(client: httpx.Client, integration_id: str, sync_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll ``GET /{id}/sync/{syncId}/status`` until the run is over: its ``data``."""
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/api/integrations/{integration_id}/sync/{sync_id}/status").json()["data"]
        if data["status"] in FINISHED:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"sync {sync_id} still {data['status']} after {timeout}s")
        time.sleep(0.05)


def run_sync(client: httpx.Client, integration_id: str, **body: Any) -> dict[str, Any]:
    """``POST /{id}/sync`` (asserted 202) and wait for the run: its status ``data``."""
    response = client.post(f"/api/integrations/{integration_id}/sync", json=body)
    assert response.status_code == 202, response.text
    return wait_for_sync(client, integration_id, response.json()["data"]["syncId"])


def connect_synced(client: httpx.Client, provider: str, *, body: dict[str, Any] | None = None, **settings: Any) -> str:
    """Connect a calendar provider with ``settings`` (and more of the connect ``body``)
    and let the initial sync finish: the integration's id."""
    data = connect(client, provider, **(body or {}), settings=settings)
    if data.get("initialSync", {}).get("syncId"):  # a provider that syncs: its first run
        wait_for_sync(client, data["integrationId"], data["initialSync"]["syncId"])
    return data["integrationId"]


def wait_until(predicate: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll ``predicate`` until it returns something truthy: that value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s")
        time.sleep(0.05)
    return value


def notify(hub: HubServer, kind: str, data: dict[str, Any], org: str = "org-1", id: str | None = None) -> None:
    """Broadcast a notification to every plugin (the ``notify`` hook) as the core does
    when something happens in ``org``; the same ``id`` twice is the same notification."""
    from ..types import Notification

    notification = Notification(kind=kind, org_id=org, data=data, id=id or f"test-{time.monotonic_ns()}",
                                at=datetime.now(timezone.utc))
    hub.run(hub.services.hub.broadcast("notify", notification=notification))
