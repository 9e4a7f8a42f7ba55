"""The axhub command line."""

import os
import subprocess
import sys

import httpx


def axhub(*args, env=None):
    return subprocess.run([sys.executable, "-m", "axhub.cli", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_token_create_mints_a_token_the_hub_accepts(hub):
    env = {"AXHUB_JWT_SECRET": hub.config.jwt_secret, "AXHUB_DATA_DIR": str(hub.config.data_dir)}
    out = axhub("token", "create", "--org", "org-7", "--role", "manager", "--user", "u-1", "--name", "Op", env=env)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    response = httpx.get(f"{hub.url}/api/integrations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    member = axhub("token", "create", "--org", "org-7", "--role", "member", env=env).stdout.strip()
    assert httpx.get(f"{hub.url}/api/integrations", headers={"Authorization": f"Bearer {member}"}).status_code == 403


def test_token_create_refuses_unknown_roles(tmp_path):
    out = axhub("token", "create", "--org", "o", "--role", "root", env={"AXHUB_DATA_DIR": str(tmp_path)})
    assert out.returncode != 0 and "invalid choice" in out.stderr


def test_db_upgrade_on_a_fresh_database(new_database, tmp_path):
    url = new_database()
    out = axhub("db", "upgrade", env={"AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "database at head" in out.stdout
    again = axhub("db", "upgrade", env={"AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path)})
    assert again.returncode == 0


def test_first_start_creates_its_secrets_private(tmp_path):
    out = axhub("plugins", env={"AXHUB_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 0, out.stderr
    for name in ("vault.key", "jwt.secret"):
        path = tmp_path / "data" / name
        assert path.exists() and (path.stat().st_mode & 0o777) == 0o600


def test_the_data_directory_and_its_database_are_private(tmp_path):
    """Created by the hub, the data folder is 0700 and the SQLite database 0600 (the
    umask would give 0755 and 0644)."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "AXHUB_DATABASE_URL"}
    old = os.umask(0o022)
    try:
        out = subprocess.run([sys.executable, "-m", "axhub.cli", "db", "upgrade"], env={**env, "AXHUB_DATA_DIR": str(data)},
                             capture_output=True, text=True, timeout=120)
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    assert (data.stat().st_mode & 0o777) == 0o700
    files = list(data.iterdir())
    assert data / "axhub.db" in files
    for path in files:
        assert (path.stat().st_mode & 0o777) == 0o600, path


def test_plugins_lists_the_first_party_plugins(tmp_path):
    out = axhub("plugins", env={"AXHUB_DATA_DIR": str(tmp_path)})
    for slug in ("google", "webhooks"):
        assert slug in out.stdout
    assert "loaded" in out.stdout
