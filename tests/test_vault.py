"""The credential vault: encrypted at rest, never shown, refreshed once, rotated keys."""

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from axhub.testing import connect, connect_synced, free_port, wait_until_up

TOKEN_TTL_DUE = 10  # seconds: inside the refresh margin, so the next use refreshes


def issued(hub, slug="google"):
    with hub.sandbox(slug) as sb:
        return sb.get("/_control/tokens").json()["everIssued"]


def database_bytes(hub) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or every PostgreSQL row."""
    url = hub.config.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))

    async def dump():
        from sqlalchemy import text

        from axhub.db import Base

        chunks = []
        async with hub.services.db.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for row in (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all():
                    chunks.append(repr(tuple(row)).encode())
        return b"\n".join(chunks)

    return hub.run(dump())


def test_tokens_are_encrypted_at_rest_and_never_in_responses_or_logs(hub, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    with hub.client("manager") as api:
        api.event_hooks["response"] = [lambda r: (r.read(), seen.append(r.text))]
        integration = connect(api, "google")["integrationId"]
        seen.append(api.get("/api/integrations").text)
        seen.append(api.get(f"/api/integrations/{integration}").text)
        seen.append(api.post(f"/api/integrations/{integration}/test").text)
    tokens = issued(hub)
    assert len(tokens) == 2  # one access token, one refresh token
    blob = database_bytes(hub)
    assert integration.encode() in blob  # the dump holds the integration: the greps below mean something
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for token in tokens:
        assert token.encode() not in blob
        assert all(token not in text for text in seen)
        assert token not in logs


def test_concurrent_users_of_an_expiring_credential_cause_one_refresh(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sb:
        sb.post("/_control/config", json={"accessTokenTtl": TOKEN_TTL_DUE})
        # The initial sync uses (and refreshes) the due token too: over before the burst,
        # its refreshes are not the burst's. Its own are still short-lived ones.
        integration = connect_synced(api, "google")
        sb.post("/_control/config", json={"accessTokenTtl": 3600})
        before = sb.get("/_control/stats").json()["counters"].get("token.refresh_token", 0)

        async def burst():
            async with httpx.AsyncClient(base_url=hub.url, headers=api.headers, timeout=60) as client:
                return await asyncio.gather(*(client.post(f"/api/integrations/{integration}/test") for _ in range(20)))

        results = asyncio.run(burst())
        assert {r.json()["data"]["connectionStatus"] for r in results} == {"healthy"}
        assert sb.get("/_control/stats").json()["counters"]["token.refresh_token"] == before + 1
        # The new token is used from now on: no more refreshes.
        api.post(f"/api/integrations/{integration}/test")
        assert sb.get("/_control/stats").json()["counters"]["token.refresh_token"] == before + 1


def test_invalid_grant_turns_the_integration_to_error_with_a_reconnect_signal(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sb:
        sb.post("/_control/config", json={"accessTokenTtl": TOKEN_TTL_DUE})
        integration = connect(api, "google")["integrationId"]
        sb.post("/_control/revoke-all")  # the user revoked the app at Google
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "unhealthy"
        assert data["lastError"]["code"] == "INVALID_CREDENTIALS"
        assert any("Reconnect" in r for r in data["recommendations"])
        view = api.get(f"/api/integrations/{integration}").json()["data"]
        assert view["status"] == "error"
        assert view["lastError"]["code"] == "INVALID_CREDENTIALS" and "reconnect" in view["lastError"]["message"]
        errored = api.get("/api/integrations", params={"status": "error"}).json()["data"]
        assert [i["id"] for i in errored] == [integration]


def test_a_failed_refresh_of_a_still_valid_token_does_not_fail_the_call(hub):
    with hub.client("manager") as api, hub.sandbox("google") as sb:
        sb.post("/_control/config", json={"accessTokenTtl": 120})  # due (margin 300 s) but valid
        integration = connect(api, "google")["integrationId"]
        sb.post("/_control/faults", json={"path": "/token", "status": 503})
        data = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert data["connectionStatus"] == "healthy"


def _serve(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "axhub.cli", "serve", "--sandbox", "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _wait(url: str, proc: subprocess.Popen) -> None:
    wait_until_up(url, proc=proc)


@pytest.mark.slow
def test_two_processes_refresh_a_shared_credential_once(new_database, tmp_path):
    """Two hub processes on one database and one provider: one refresh call in all."""
    database = new_database()
    sandbox_port, ports = free_port(), (free_port(), free_port())
    common = {
        "AXHUB_DATABASE_URL": database, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "1",
        "AXHUB_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}", "AXHUB_PLUGINS": "google",
    }
    procs = [subprocess.Popen([sys.executable, "-m", "axhub.cli", "sandbox", "--port", str(sandbox_port)],
                              env={**os.environ, **common}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)]
    try:
        _wait(f"http://127.0.0.1:{sandbox_port}/google/_control/stats", procs[0])
        subprocess.run([sys.executable, "-m", "axhub.cli", "db", "upgrade"], env={**os.environ, **common}, check=True,
                       capture_output=True)
        for port in ports:
            procs.append(_serve({**common, "AXHUB_AUTO_MIGRATE": "0"}, port))
            _wait(f"http://127.0.0.1:{port}/schema/openapi.json", procs[-1])
        token = subprocess.run([sys.executable, "-m", "axhub.cli", "token", "create", "--org", "o", "--role", "admin"],
                               env={**os.environ, **common}, check=True, capture_output=True, text=True).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        sandbox = httpx.Client(base_url=f"http://127.0.0.1:{sandbox_port}/google", timeout=30)
        sandbox.post("/_control/config", json={"accessTokenTtl": TOKEN_TTL_DUE})
        with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", headers=headers, timeout=30) as api:
            integration = connect(api, "google")["integrationId"]
        sandbox.post("/_control/config", json={"accessTokenTtl": 3600})

        async def burst():
            clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", headers=headers, timeout=60) for p in ports]
            try:
                calls = [c.post(f"/api/integrations/{integration}/test") for _ in range(10) for c in clients]
                return await asyncio.gather(*calls)
            finally:
                for c in clients:
                    await c.aclose()

        results = asyncio.run(burst())
        assert {r.json()["data"]["connectionStatus"] for r in results} == {"healthy"}
        assert sandbox.get("/_control/stats").json()["counters"]["token.refresh_token"] == 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def test_key_rotation_keeps_credentials_readable(make_hub, new_database):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    database = new_database()
    first = make_hub({"AXHUB_VAULT_KEYS": old}, database_url=database)
    with first.client("manager") as api:
        integration = connect(api, "google")["integrationId"]
    first.stop()
    env = {**os.environ, "AXHUB_DATABASE_URL": database, "AXHUB_VAULT_KEYS": f"{new},{old}",
           "AXHUB_DATA_DIR": str(first.config.data_dir)}
    out = subprocess.run([sys.executable, "-m", "axhub.cli", "vault", "rotate"], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "re-encrypted 1 credentials" in out
    second = make_hub({"AXHUB_VAULT_KEYS": new, "AXHUB_JWT_SECRET": first.config.jwt_secret}, database_url=database)
    # The sandbox of the first hub is gone with it; the new hub's sandbox does not know the
    # token, so the provider says 401 — but the vault could decrypt it with the new key
    # alone, which is what rotation must guarantee (an undecryptable entry is a 500).
    with second.client("manager") as api:
        response = api.post(f"/api/integrations/{integration}/test")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["lastError"]["code"] == "INVALID_CREDENTIALS"
