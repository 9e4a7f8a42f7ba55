"""``axhub plugin new``: each type's generated package installs with pip from outside
the repository, is discovered by the hub, and its own tests (the conformance suite
against its own sandbox) pass unchanged. This is the compatibility guard for the
template: a hook or testing-API change that breaks a new plugin fails here."""

import importlib
import json
import os
import subprocess
import sys

import pytest

from axhub.testing import connect, notify, wait_until

TYPES = {"chatter": "communication", "calsy": "calendar", "meety": "video"}


def axhub(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "axhub.cli", *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated packages, installed in a folder of their own that only this
    module's processes see (``PYTHONPATH``): installed in the shared environment, they
    would be discovered by every hub the other test workers start meanwhile."""
    root = tmp_path_factory.mktemp("authors")
    for slug, kind in TYPES.items():
        out = axhub("plugin", "new", slug, "--type", kind, "--dir", str(root))
        assert out.returncode == 0, out.stderr
    site = root / "site-packages"
    _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site),
         *(str(root / f"axhub-{s}") for s in TYPES))
    return root, {"PYTHONPATH": str(site)}


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(TYPES))
def test_a_generated_plugin_passes_its_own_conformance_tests(generated, slug):
    root, env = generated
    package = root / f"axhub-{slug}"
    tests = sorted(p.name for p in (package / "tests").iterdir())
    assert f"test_{slug}_conformance.py" in tests
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and "warning" not in summary and "passed" in summary, summary


def test_generated_plugins_are_discovered(generated, tmp_path):
    root, env = generated
    listed = axhub("plugins", "--json", env={"AXHUB_DATA_DIR": str(tmp_path), **env})
    records = {r["name"]: r for r in json.loads(listed.stdout)}
    for slug, kind in TYPES.items():
        assert records[slug]["status"] == "loaded", records[slug]
        assert records[slug]["type"] == kind and records[slug]["version"] == "0.1.0"
    assert "notify" in records["chatter"]["hooks"] and "deliver" in records["chatter"]["hooks"]
    pyproject = (root / "axhub-chatter" / "pyproject.toml").read_text()
    assert 'dependencies = ["axhub>=0.1,<0.2"]' in pyproject and 'chatter = "axhub_chatter"' in pyproject


@pytest.mark.parametrize("args, message", [
    (["Bad-Name", "--type", "calendar"], "lowercase letters and digits"),
    (["x", "--type", "calendar"], "lowercase letters and digits"),
    (["fine", "--type", "crm"], "invalid choice"),
])
def test_bad_names_and_types_are_refused_and_nothing_is_written(tmp_path, args, message):
    out = axhub("plugin", "new", *args, "--dir", str(tmp_path))
    assert out.returncode == 2 and message in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_package_is_not_overwritten(tmp_path):
    assert axhub("plugin", "new", "twice", "--type", "video", "--dir", str(tmp_path)).returncode == 0
    marker = tmp_path / "axhub-twice" / "axhub_twice" / "__init__.py"
    marker.write_text("# mine\n")
    out = axhub("plugin", "new", "twice", "--type", "calendar", "--dir", str(tmp_path))
    assert out.returncode == 2 and "already exists" in out.stderr
    assert marker.read_text() == "# mine\n"


@pytest.mark.slow
def test_the_generated_chat_plugin_posts_each_kind_where_its_settings_say(generated, make_hub):
    """The communication template beyond conformance: kinds routed by channel (the alerts
    channel is on the sandbox's second page of channels), the organisation's templates,
    escaping, mentions, the weekly-report switch, a test notice to each channel."""
    site = generated[1]["PYTHONPATH"]
    sys.path.insert(0, site)  # for this test only: the hub in this process finds the package
    importlib.invalidate_caches()
    try:
        hub = make_hub({"AXHUB_PLUGINS": "chatter"})
        _posts_each_kind(hub)
    finally:
        sys.path.remove(site)
        importlib.invalidate_caches()


def _posts_each_kind(hub) -> None:
    posts = lambda: hub.sandbox("chatter").get("/_control/posts").json()["posts"]  # noqa: E731
    with hub.client("admin") as api:
        bad = api.post("/api/integrations/chatter/connect", json={"settings": {"channels": {"alerts": "#Nope"}}})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "settings.channels.alerts", bad.text
        integration = connect(api, "chatter", settings={
            "channels": {"default": "general", "alerts": "team-110"}, "userMentions": {"enabled": True},
            "messageTemplates": {"eventReminder": "Rappel : {eventName} dans {timeUntil}"}})["integrationId"]
        notify(hub, "eventReminder", {"title": "Revue *urgente*", "start": "2030-01-01T09:00:00Z", "asOf": "2030-01-01T08:45:00Z",
                                      "organizer": {"email": "anne@example.com"}})
        notify(hub, "attendanceAlert", {"title": "Bilan", "attendanceRate": 25.0})
        notify(hub, "weeklyReport", {"period": "S1"}, id="week-1")  # weekly reports are opt-in
        got = wait_until(lambda: len(p := posts()) == 2 and p)
        by_channel = {p["channel_id"]: p["message"] for p in got}
        assert by_channel["ch000"].startswith("Rappel : Revue \\*urgente\\* dans 15 minutes @anne"), by_channel
        assert by_channel["ch113"].startswith("⚠️ Faible taux de présence pour Bilan: 25%"), by_channel
        api.put(f"/api/integrations/{integration}/settings",
                json={"settings": {"notifications": {"weeklyReports": True}}}).raise_for_status()
        notify(hub, "weeklyReport", {"period": "S2"}, id="week-2")
        assert wait_until(lambda: len(p := posts()) == 3 and p)[-1]["channel_id"] == "ch000"
        answer = api.post(f"/api/integrations/{integration}/test", json={"sendTestMessage": True}).json()["data"]
        assert sorted((c["target"], c["status"]) for c in answer["testMessage"]["channels"]) == [
            ("general", "delivered"), ("team-110", "delivered")], answer
        api.put(f"/api/integrations/{integration}/settings",
                json={"settings": {"channels": {"default": "general", "alerts": "ghost"}}}).raise_for_status()
        report = api.post(f"/api/integrations/{integration}/test").json()["data"]
        assert "The app sees no channel ghost: create it or add the app" in report["recommendations"], report
