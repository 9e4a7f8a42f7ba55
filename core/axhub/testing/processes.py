"""Hubs and sandboxes in their own processes, for tests that kill one mid-work
(``kill -9``) and check that the next process loses nothing and duplicates nothing, and
for tests that run several hubs on one database, as operators do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Mapping

import httpx

from . import FINISHED, wait_until_up


class Processes:
    """``axhub`` CLI processes (``serve``, ``sandbox``) sharing one environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.procs: list[subprocess.Popen] = []
        self._logs: list[IO[str]] = []

    def start(self, *args: str, log: Path | None = None) -> subprocess.Popen:
        """``log``: a file that takes the process's output (else it is dropped)."""
        out = os.fdopen(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") if log else None
        if out:
            self._logs.append(out)
        proc = subprocess.Popen([sys.executable, "-m", "axhub.cli", *args], env=self.env,
                                stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT if out else subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def serve(self, port: int, *args: str, log: Path | None = None) -> subprocess.Popen:
        """``axhub serve`` on ``port``, once it answers."""
        proc = self.start("serve", "--port", str(port), *args, log=log)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/schema/openapi.json", proc=proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text() if log else ''}") from None
        return proc

    def migrate(self) -> None:
        """Bring the database to the latest schema once, before several processes start
        with ``AXHUB_AUTO_MIGRATE=0`` (they would otherwise all migrate it at once)."""
        self.run("db", "upgrade")

    def run(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "axhub.cli", *args], env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def token(self, org: str = "o", role: str = "admin") -> str:
        return self.run("token", "create", "--org", org, "--role", role).strip()

    def api(self, port: int, token: str) -> httpx.Client:
        """A client of the hub on ``port``, calling as the bearer of ``token``."""
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
        for out in self._logs:
            out.close()
        self._logs = []


def socket_owner(pids: Mapping[str, int]) -> Callable[[tuple[str, int], tuple[str, int]], str | None]:
    """``identify`` for a :class:`~axhub.testing.receiver.Receiver`: which of ``pids``
    (name → pid, read at each call, so it may be filled once the processes run) holds
    the client end of a live TCP connection from ``client`` to ``server``. Every hub
    process sends from the same address, so the socket's owner is the only trace of
    which one sent a request. Linux only (``/proc``); None where it cannot tell."""
    owners: dict[str, str] = {}  # socket inode → name: a connection keeps its socket for its life
    lock = threading.Lock()

    def inode(client: tuple[str, int], server: tuple[str, int]) -> str | None:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
                if int(local, 16) == client[1] and int(remote, 16) == server[1]:
                    return fields[9]
        return None

    def owner(client: tuple[str, int], server: tuple[str, int]) -> str | None:
        number = inode(client, server)
        if number in (None, "0"):
            return None
        with lock:
            if number in owners:
                return owners[number]
        link = f"socket:[{number}]"
        for name, pid in list(pids.items()):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                        with lock:
                            owners[number] = name
                        return name
                except OSError:  # closed meanwhile
                    continue
        return None

    return owner


def sync_status(api: httpx.Client, integration: str, sync_id: str) -> dict[str, Any]:
    return api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]


def run_to_end(api: httpx.Client, integration: str, timeout: float = 120) -> dict[str, Any]:
    """Start a sync once the integration's lock is free (409 while a run holds it: a
    scheduled one, or a killed run's until the lock is freed) and wait for it to
    finish: its status ``data``."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.post(f"/api/integrations/{integration}/sync", json={})
        if response.status_code == 202:
            break
        assert response.status_code == 409, response.text
        assert time.monotonic() < deadline
        time.sleep(0.3)
    sync_id = response.json()["data"]["syncId"]
    while (data := sync_status(api, integration, sync_id))["status"] not in FINISHED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return data
