"""Two hub processes on one PostgreSQL database, a sandbox in a third: each renewal of a
push subscription happens once however many processes run the round, and a burst of
Google notifications spread over both processes is stored once and synced as one
burst (the signals claimed once each, the runs kept single by the sync lock)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta

import asyncpg
import httpx
import pytest

from axhub.testing import connect, free_port, wait_until, wait_until_up


def sql(url: str, query: str) -> list:
    async def run():
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            return await conn.fetch(query)
        finally:
            await conn.close()
    return asyncio.run(run())


@pytest.mark.slow
def test_two_processes_renew_once_and_work_a_burst_once(new_database, tmp_path):
    url = new_database()
    if url.startswith("sqlite"):
        pytest.skip("several processes share a PostgreSQL database (AXHUB_TEST_DATABASE_URL)")
    sandbox, first, second = free_port(), free_port(), free_port()
    env = {**os.environ, "AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
           "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox}", "AXHUB_PLUGINS": "google", "AXHUB_AUTO_MIGRATE": "0",
           "AXHUB_SCHEDULER": "0", "AXHUB_PUSH": "auto", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{first}"}
    cli = [sys.executable, "-m", "axhub.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    procs = [subprocess.Popen([*cli, "sandbox", "--port", str(sandbox)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        wait_until_up(f"http://127.0.0.1:{sandbox}/google/_control/stats", proc=procs[0])
        for port in (first, second):
            procs.append(subprocess.Popen([*cli, "serve", "--sandbox", "--port", str(port)], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_until_up(f"http://127.0.0.1:{port}/schema/openapi.json", proc=procs[-1])
        token = subprocess.run([*cli, "token", "create", "--org", "o", "--role", "admin"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()
        control = httpx.Client(base_url=f"http://127.0.0.1:{sandbox}/google", timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{first}", headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as api:
            integration = connect(api, "google")["integrationId"]
            wait_until(lambda: (api.get(f"/api/integrations/{integration}").json()["data"]["push"] or {})
                       .get("mode") == "push", timeout=60)
            [old] = sql(url, "SELECT id, renew_at FROM push_subscriptions")
            at = (old["renew_at"] + timedelta(seconds=1)).isoformat() + "+00:00"
            rounds = [subprocess.Popen([*cli, "jobs", "run", "push-upkeep", "--at", at], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
            assert [r.wait(timeout=120) for r in rounds] == [0, 0]
            state = control.get("/_control/push").json()
            assert state["stopped"] == [old["id"]] and len(state["channels"]) == 1
            [channel] = state["channels"]
            assert len(sql(url, "SELECT id FROM push_subscriptions")) == 1
            wait_until(lambda: (api.get(f"/api/integrations/{integration}").json()["data"]["push"] or {})
                       .get("state") == "active", timeout=60)

            # The burst: eight messages, spread over the two processes as a load balancer would.
            headers = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Resource-State": "exists",
                       "X-Goog-Resource-ID": channel["resourceId"], "X-Goog-Channel-Token": channel["token"]}
            runs_before = len(sql(url, "SELECT id FROM sync_runs WHERE triggered_by::text LIKE '%push_notification%'"))
            for n in range(8):
                port = (first, second)[n % 2]
                answer = httpx.post(f"http://127.0.0.1:{port}/hooks/google", content=b"", timeout=30,
                                    headers={**headers, "X-Goog-Message-Number": str(500 + n)})
                assert answer.status_code == 200, answer.text
            # The same messages again (a redelivery): stored once.
            for n in range(8):
                port = (second, first)[n % 2]
                assert httpx.post(f"http://127.0.0.1:{port}/hooks/google", content=b"", timeout=30,
                                  headers={**headers, "X-Goog-Message-Number": str(500 + n)}).status_code == 200
            wait_until(lambda: not sql(url, "SELECT id FROM push_signals WHERE handled_at IS NULL")
                       and not sql(url, "SELECT id FROM sync_runs WHERE status IN ('started', 'running')"), timeout=120)
            signals = sql(url, "SELECT dedupe_key, handled_by FROM push_signals WHERE dedupe_key LIKE 'google:5%'")
            assert sorted(s["dedupe_key"] for s in signals) == [f"google:{500 + n}" for n in range(8)]
            assert all(s["handled_by"] for s in signals)
            runs = sql(url, "SELECT started_at, completed_at FROM sync_runs "
                            "WHERE triggered_by::text LIKE '%push_notification%' ORDER BY started_at")[runs_before:]
            # One run for the burst, and at most one more per process for messages that
            # came in while it ran; never two at once.
            assert 1 <= len(runs) <= 3
            assert all(a["completed_at"] <= b["started_at"] for a, b in zip(runs, runs[1:]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
