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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ..auth import create_token
from ..config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubServer:
    """A hub served by uvicorn on 127.0.0.1 in a thread, with its own event loop."""

    def __init__(self, database_url: str, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "AXHUB_DATA_DIR": str(data_dir),
            "AXHUB_DATABASE_URL": database_url,
            "AXHUB_SANDBOX": "1",
            "AXHUB_PUBLIC_URL": self.url,
            **(env or {}),
        }
        self.config = Config.from_env(self.env)
        self._thread: threading.Thread | None = None
        self._server = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = None

    def start(self) -> "HubServer":
        import uvicorn

        from ..api.app import create_app

        self.app = create_app(self.config)
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
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

    def run(self, coro) -> Any:
        """Run a coroutine on the hub's own loop (its database engine lives there)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    # -- callers -----------------------------------------------------------------------
    def token(self, role: str = "admin", org: str = "org-1", user: str = "user-1", **claims: Any) -> str:
        return create_token(self.config.jwt_secret, org=org, role=role, user=user,
                            name=claims.get("name", "Marie Dubois"), email=claims.get("email", "marie.dubois@techcorp.com"),
                            ttl=claims.get("ttl", 3600), now=claims.get("now"))

    def client(self, role: str = "admin", org: str = "org-1", user: str = "user-1", **claims: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token(role, org, user, **claims)}"}, timeout=30)

    def anonymous(self) -> httpx.Client:
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
        self.run(wipe())
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
