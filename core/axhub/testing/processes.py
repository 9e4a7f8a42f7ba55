"""Hubs and sandboxes in their own processes, for tests that kill one mid-work
(``kill -9``) and check that the next process loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx

from . import FINISHED


class Processes:
    """``axhub`` CLI processes (``serve``, ``sandbox``) sharing one environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "axhub.cli", *args], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def token(self, org: str = "o", role: str = "admin") -> str:
        return subprocess.run([sys.executable, "-m", "axhub.cli", "token", "create", "--org", org, "--role", role],
                              env=self.env, check=True, capture_output=True, text=True).stdout.strip()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


def sync_status(api: httpx.Client, integration: str, sync_id: str) -> dict[str, Any]:
    return api.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]


def run_to_end(api: httpx.Client, integration: str, timeout: float = 120) -> dict[str, Any]:
    """Start a sync once the lock of a killed run has lapsed (409 until then) and wait
    for it to finish: its status ``data``."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.post(f"/api/integrations/{integration}/sync", json={})
        if response.status_code == 202:
            break
        assert response.status_code == 409, response.text  # the dead run's lease has to lapse first
        assert time.monotonic() < deadline
        time.sleep(0.3)
    sync_id = response.json()["data"]["syncId"]
    while (data := sync_status(api, integration, sync_id))["status"] not in FINISHED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return data
