"""`axhub sync`, the usage errors of `axhub jobs run`, help on every option, and the
sandbox setting recorded by the serving hub — through the CLI, against a real database
and the providers' sandboxes."""

import argparse
import os
import subprocess
import sys

import httpx

from axhub.cli.commands import parser
from axhub.testing import connect, connect_synced, free_port
from axhub.testing.processes import Processes

FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}
EVENTS = "/calendar/v3/calendars/primary/events"


def axhub(*args, env):
    return subprocess.run([sys.executable, "-m", "axhub.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def hub_env(hub):
    """The environment of a CLI process beside the test hub (which is not `axhub serve`,
    so records nothing: the sandbox setting is given)."""
    return {**os.environ, "AXHUB_DATA_DIR": str(hub.config.data_dir), "AXHUB_DATABASE_URL": hub.config.database_url,
            "AXHUB_SANDBOX": "1", "AXHUB_PUBLIC_URL": hub.url}


def event(api, title, day):
    api.post("/api/events", json={"title": title, "start": f"2026-06-{day:02d}T09:00:00Z",
                                  "end": f"2026-06-{day:02d}T10:00:00Z"}).raise_for_status()


def sandbox_events(sandbox: httpx.Client) -> list[str]:
    return [e["summary"] for e in sandbox.get("/_control/calendar/events").json()["items"]]


def summary_row(stdout: str) -> list[int]:
    """The figures of the summary table (created, updated, deleted, conflicts, errors)."""
    rows = [line for line in stdout.splitlines() if line.strip("│ ").replace("│", "").replace(" ", "").isdigit()]
    assert len(rows) == 1, stdout
    return [int(c) for c in rows[0].split("│") if c.strip()]


def usage_error(out, words):
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and out.stderr.startswith("usage: axhub"), out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert words in last, out.stderr


def test_every_option_and_command_has_help():
    missing = []

    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                missing.extend(f"{where} {name}" for name in action.choices if name not in helped)
                for name, child in action.choices.items():
                    walk(child, f"{where} {name}")
            elif not action.help:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(parser(), "axhub")
    assert missing == []


def test_sync_shows_the_run_and_is_recorded_as_manual(hub):
    env = hub_env(hub)
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        event(api, "Formation sécurité", 1)
        event(api, "Atelier", 2)

        planned = axhub("sync", integration, "--dry-run", env=env)
        assert planned.returncode == 0, planned.stderr
        assert "dry run" in planned.stdout and summary_row(planned.stdout) == [2, 0, 0, 0, 0]
        assert sandbox_events(hub.sandbox("google")) == []  # nothing written

        out = axhub("sync", integration, "--direction", "attendance_to_external", env=env)
        assert out.returncode == 0, out.stderr
        assert "completed" in out.stdout and summary_row(out.stdout) == [2, 0, 0, 0, 0]
        assert "processed" in out.stderr  # the progress bar, on stderr
        assert sorted(sandbox_events(hub.sandbox("google"))) == ["Atelier", "Formation sécurité"]

        runs = api.get(f"/api/integrations/{integration}/history").json()["data"]
    newest, dry = runs[0], runs[1]
    assert (newest["type"], newest["direction"], newest["status"]) == ("manual", "attendance_to_external", "success")
    assert newest["triggeredBy"] == {"name": "axhub sync (CLI)", "userId": "axhub-cli"}
    assert dry["type"] == "manual" and dry["statistics"]["eventsCreated"] == 2


def test_a_failed_sync_exits_non_zero_and_says_why(hub):
    env = hub_env(hub)
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
    hub.sandbox("google").post("/_control/faults", json={"path": EVENTS, "method": "GET", "status": 403, "body": FORBIDDEN})
    out = axhub("sync", integration, "--force", env=env)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "failed" in out.stdout and summary_row(out.stdout)[-1] == 1
    assert "PERMISSION_DENIED" in out.stderr and "Traceback" not in out.stderr


def test_sync_usage_errors_are_one_line_and_exit_2(hub):
    env = hub_env(hub)
    usage_error(axhub("sync", "int-nope", env=env), "no integration 'int-nope'")
    usage_error(axhub("sync", env=env), "required: ID")
    usage_error(axhub("sync", "int-x", "--direction", "sideways", env=env), "invalid choice: 'sideways'")
    with hub.client("admin") as api:
        zoom = connect(api, "zoom")
    # Zoom's meetings only follow Attendance-X events: the provider refuses the direction.
    usage_error(axhub("sync", zoom["integrationId"], "--direction", "external_to_attendance", env=env), "direction")


def test_jobs_run_usage_errors_exit_2(hub):
    env = hub_env(hub)
    usage_error(axhub("jobs", "run", "nightly", env=env), "unknown job 'nightly'")
    usage_error(axhub("jobs", "run", "sync", env=env), "needs --integration")
    usage_error(axhub("jobs", "run", "sync", "--integration", "int-nope", env=env), "no integration 'int-nope'")
    usage_error(axhub("jobs", "run", "reminders", "--at", "tomorrow", env=env), "--at 'tomorrow'")


def test_commands_use_the_providers_the_serving_hub_runs_with(tmp_path, new_database):
    """`axhub serve --sandbox` records its sandboxes in the data folder; a later CLI
    process given only the data folder and database syncs against them — and once the
    server is gone, says so instead of calling the real provider."""
    env = {k: v for k, v in os.environ.items() if k not in ("AXHUB_SANDBOX", "AXHUB_SANDBOX_URL", "AXHUB_PUBLIC_URL")}
    env.update(AXHUB_DATA_DIR=str(tmp_path / "data"), AXHUB_DATABASE_URL=new_database(), AXHUB_SCHEDULER="0")
    port = free_port()
    procs = Processes(env)
    procs.env = env
    try:
        procs.serve(port, "--sandbox", log=tmp_path / "serve.log")
        token = procs.token(org="acme", role="manager")
        with procs.api(port, token) as api:
            integration = connect_synced(api, "google")
            event(api, "Formation", 3)
        out = axhub("sync", integration, env=env)
        assert out.returncode == 0, out.stderr
        assert summary_row(out.stdout)[0] == 1
        doctor = axhub("doctor", env=env)
        assert "sandbox mode, from serving.json" in doctor.stdout, doctor.stdout
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/sandbox/google") as sandbox:
            assert sandbox_events(sandbox) == ["Formation"]
    finally:
        procs.close()
    down = axhub("sync", integration, env=env)
    assert down.returncode == 1
    assert "does not answer" in down.stderr and "dev.py serve" in down.stderr and "Traceback" not in down.stderr
