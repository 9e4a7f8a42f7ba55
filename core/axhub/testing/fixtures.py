"""pytest fixtures: ``hub`` (a running hub, wiped before each test), ``hub_plugins`` (the
plugins it loads), ``timed`` (a hub whose deliveries the test drives, on a hand-moved
clock), ``make_hub`` (another hub with its own environment), ``database_url``.

``AXHUB_TEST_DATABASE_URL`` chooses the database server: unset means SQLite in a
temporary folder; a PostgreSQL URL means a fresh database created on that server for
the session and dropped after it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from ..config import normalise_database_url
from . import Clock, HubServer


def _admin_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_url(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_server_url() -> str | None:
    url = os.environ.get("AXHUB_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


@pytest.fixture(scope="session")
def new_database(database_server_url, tmp_path_factory):
    """A factory of empty databases on the chosen server, dropped at the end."""
    made: list[str] = []

    def make() -> str:
        if database_server_url is None or database_server_url.startswith("sqlite"):
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'axhub.db'}"
        name = f"axhub_test_{os.getpid()}_{secrets.token_hex(4)}"
        asyncio.run(_pg(database_server_url, f'CREATE DATABASE "{name}"'))
        made.append(name)
        base, _, _ = database_server_url.rpartition("/")
        return f"{base}/{name}"

    yield make
    for name in made:
        try:
            asyncio.run(_pg(database_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


@pytest.fixture(scope="session")
def database_url(new_database) -> str:
    return new_database()


@pytest.fixture(scope="session")
def hub_plugins() -> str | None:
    """The plugins the ``hub`` loads (``AXHUB_PLUGINS``, comma-separated): every installed
    one unless the environment says otherwise. A plugin's conftest overrides this
    fixture with its own slug to test its plugin alone."""
    return os.environ.get("AXHUB_PLUGINS")


@pytest.fixture(scope="session")
def _hub_server(database_url, tmp_path_factory, hub_plugins) -> Iterator[HubServer]:
    env = {"AXHUB_PLUGINS": hub_plugins} if hub_plugins is not None else None
    server = HubServer(database_url, tmp_path_factory.mktemp("hub-data"), env).start()
    yield server
    server.stop()


@pytest.fixture
def hub(_hub_server) -> HubServer:
    """The session's hub, with an empty database and fresh sandboxes."""
    _hub_server.reset()
    return _hub_server


@pytest.fixture(scope="session")
def _timed_hub(new_database, tmp_path_factory, hub_plugins) -> Iterator[HubServer]:
    env = {"AXHUB_DELIVERY_WORKER": "0", "AXHUB_DELIVERY_RETRY_MAX_WAIT": "600",
           **({"AXHUB_PLUGINS": hub_plugins} if hub_plugins is not None else {})}
    server = HubServer(new_database(), tmp_path_factory.mktemp("timed-hub"), env, clock=Clock()).start()
    yield server
    server.stop()


@pytest.fixture
def timed(_timed_hub) -> HubServer:
    """A hub with no delivery worker, reading a clock the test moves by hand
    (``timed.clock``): the test runs each delivery round itself and sees when a retry
    falls due (a provider's ``Retry-After``, the backoff) without waiting for it."""
    _timed_hub.reset()
    _timed_hub.clock.now = datetime.now(timezone.utc)  # receivers check timestamps against the wall clock
    return _timed_hub


@pytest.fixture
def make_hub(new_database, tmp_path: Path):
    """Start another hub with extra environment (``AXHUB_PLUGINS``, …) and its own database."""
    servers: list[HubServer] = []

    def make(env: dict[str, str] | None = None, database_url: str | None = None) -> HubServer:
        server = HubServer(database_url or new_database(), tmp_path / f"hub-{len(servers)}", env).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
