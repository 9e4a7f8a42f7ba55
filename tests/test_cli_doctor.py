"""`axhub doctor` against real databases: what it finds and what it says to do."""

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from axhub.testing import connect_synced


def doctor(env):
    return subprocess.run([sys.executable, "-m", "axhub.cli", "doctor"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def line(out, check):
    found = [ln for ln in out.stdout.splitlines() if ln[6:].startswith(check)]
    assert found, out.stdout
    return found[0]


def test_an_unmigrated_database_is_named_with_the_fix(new_database, tmp_path):
    env = {"AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_PUBLIC_URL": "http://hub.example"}
    out = doctor({**env, "AXHUB_SANDBOX": "0"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert line(out, "migrations").startswith("FAIL") and "axhub db upgrade" in out.stdout
    subprocess.run([sys.executable, "-m", "axhub.cli", "db", "upgrade"], env={**os.environ, **env}, check=True,
                   capture_output=True)
    again = doctor({**env, "AXHUB_SANDBOX": "0"})
    assert again.returncode == 0, again.stdout
    assert line(again, "migrations").startswith("ok")
    assert line(again, "database").startswith("ok") and line(again, "plugins").startswith("ok")
    # Real providers on plain http: a warning that says what to set, not a failure.
    assert line(again, "public URL").startswith("warn") and "AXHUB_PUBLIC_URL=https://" in again.stdout
    # And so no provider can push: every integration polls, said with the reason (docs/push.md).
    polling = doctor({**env, "AXHUB_SANDBOX": "0", "AXHUB_PUSH": "auto"})
    assert line(polling, "push").startswith("warn") and "not an https address" in polling.stdout
    pushing = doctor({**env, "AXHUB_SANDBOX": "0", "AXHUB_PUSH": "auto", "AXHUB_PUBLIC_URL": "https://hub.example"})
    assert line(pushing, "push").startswith("ok") and "https://hub.example/hooks/{provider}" in pushing.stdout


def test_an_unreachable_database_is_a_failure_not_a_traceback(tmp_path):
    out = doctor({"AXHUB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "AXHUB_DATA_DIR": str(tmp_path)})
    assert out.returncode == 1 and "Traceback" not in out.stderr + out.stdout
    assert line(out, "database").startswith("FAIL") and "AXHUB_DATABASE_URL" in out.stdout


def test_a_vault_key_that_opens_nothing_stored(hub):
    with hub.client("admin") as api:
        connect_synced(api, "google")
    env = {"AXHUB_DATABASE_URL": hub.config.database_url, "AXHUB_DATA_DIR": str(hub.config.data_dir),
           "AXHUB_SANDBOX": "1", "AXHUB_PUBLIC_URL": hub.url}
    good = doctor(env)
    assert good.returncode == 0, good.stdout
    assert "opens the stored credentials" in line(good, "vault key")
    bad = doctor({**env, "AXHUB_VAULT_KEYS": Fernet.generate_key().decode()})
    assert bad.returncode == 1
    assert line(bad, "vault key").startswith("FAIL") and "AXHUB_VAULT_KEYS" in bad.stdout


def test_a_command_on_a_database_not_ready_points_to_doctor(new_database, tmp_path):
    env = {"AXHUB_DATABASE_URL": new_database(), "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_SANDBOX": "0"}
    for args in (("sync", "int-x"), ("jobs",)):
        out = subprocess.run([sys.executable, "-m", "axhub.cli", *args], env={**os.environ, **env},
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert "the database is not ready" in out.stderr and "axhub doctor" in out.stderr
