"""GET /api/integrations/analytics/metrics: the figures match what happened."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axhub.testing import connect, connect_synced, notify, run_sync, wait_until

URL = "/api/integrations/analytics/metrics"
FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}


def test_admin_only_and_parameters_checked(hub):
    with hub.client("manager") as api:
        response = api.get(URL)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    with hub.client("admin") as api:
        response = api.get(URL, params={"period": "year"})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "period"
        response = api.get(URL, params={"providers": "google,teams"})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "providers" and "'teams'" in response.json()["error"]["message"]
        empty = api.get(URL).json()["data"]
        assert empty["overview"] == {"totalIntegrations": 0, "activeIntegrations": 0, "totalSyncs": 0,
                                     "successRate": None, "averageResponseTime": None}
        assert len(empty["trends"]["syncVolume"]) == 7 and all(d["syncs"] == 0 for d in empty["trends"]["syncVolume"])
        # Days without activity are zeros, in the text the busy days use.
        assert [d["date"] for d in empty["trends"]["responseTime"]] == [d["date"] for d in empty["trends"]["syncVolume"]]
        assert all((d["averageTime"], d["calls"]) == ("0ms", 0) for d in empty["trends"]["responseTime"])
        assert empty["errors"] == {"totalErrors": 0, "errorRate": 0.0, "commonErrors": []}


def test_metrics_match_the_history_with_failures(hub):
    control = hub.sandbox("google")
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        api.post("/api/events", json={"title": "Refused", "start": "2026-06-01T09:00:00Z", "end": "2026-06-01T10:00:00Z",
                                      "timezone": "Europe/Paris"}).raise_for_status()
        control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "POST",
                                               "status": 403, "count": 1, "body": FORBIDDEN})
        assert run_sync(api, integration)["status"] == "partial"
        control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "GET",
                                               "status": 403, "count": 1, "body": FORBIDDEN})
        assert run_sync(api, integration)["status"] == "failed"
        assert run_sync(api, integration)["status"] == "completed"

        history = api.get(f"/api/integrations/{integration}/history").json()["data"]
        data = api.get(URL, params={"period": "day", "providers": "google"}).json()["data"]

    failures = [r for r in history if r["status"] != "success"]
    assert data["overview"]["totalIntegrations"] == data["overview"]["activeIntegrations"] == 1
    assert data["overview"]["totalSyncs"] == len(history) == 4
    assert data["overview"]["successRate"] == round((len(history) - len(failures)) / len(history), 4)
    assert data["errors"]["totalErrors"] == len(failures) == 2
    assert data["errors"]["errorRate"] == 0.5
    assert {e["error"]: e["count"] for e in data["errors"]["commonErrors"]} == {"PERMISSION_DENIED": 2}
    assert abs(sum(e["percentage"] for e in data["errors"]["commonErrors"]) - 1) < 1e-3
    today = data["trends"]["syncVolume"][-1]
    assert data["trends"]["syncVolume"][-1]["date"] == datetime.now(ZoneInfo(data["timezone"])).date().isoformat()
    assert (today["syncs"], today["errors"]) == (4, 2)
    google = data["byProvider"]["google"]
    assert google["syncs"] == 4 and google["successRate"] == 0.5
    # Every call the plugin made (token exchange, listings, batches) was timed and sized.
    assert google["apiCalls"] >= 5
    assert google["averageResponseTime"] and data["overview"]["averageResponseTime"]
    assert google["dataTransferred"].endswith(("B", "KB", "MB"))
    assert data["trends"]["responseTime"][-1]["calls"] == google["apiCalls"]
    assert data["trends"]["responseTime"][-1]["averageTime"].endswith(("ms", "s"))


def _seed_runs(hub, integration: str, org: str, runs: list[tuple[datetime, str, str | None]]) -> None:
    from sqlalchemy import delete, insert

    from axhub.db import SyncRun

    async def write() -> None:
        async with hub.services.db.session() as s, s.begin():
            await s.execute(delete(SyncRun).where(SyncRun.integration_id == integration))
            if runs:
                await s.execute(insert(SyncRun.__table__), [{
                    "id": f"sync-seed-{i}", "integration_id": integration, "org_id": org, "provider": "google",
                    "status": status, "type": "automatic", "direction": "bidirectional", "scope": "all", "options": {},
                    "dry_run": False, "error_count": 0 if status == "completed" else 1, "triggered_by": {},
                    "statistics": {}, "errors": [], "conflicts": [], "plan": None, "message": None,
                    "error_code": code, "started_at": at, "completed_at": at, "duration_ms": 10,
                } for i, (at, status, code) in enumerate(runs)])

    hub.run(write())


ZONES = ["UTC", "Europe/Paris", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zone=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "week", "month", "quarter"]),
    runs=st.lists(st.tuples(st.integers(0, 95 * 24 * 3600), st.sampled_from(["completed", "partial", "failed"]),
                            st.sampled_from(["RATE_LIMIT_EXCEEDED", "PERMISSION_DENIED", None])), max_size=40),
)
def test_days_are_the_organisations_days(hub, zone, period, runs):
    """Seeded runs at random instants: each day of the trend holds exactly the runs
    whose local date (in the organisation's zone) it is, and the totals add up."""
    with hub.client("admin", org="org-tz") as api:
        integrations = api.get("/api/integrations").json()["data"]
        integration = integrations[0]["id"] if integrations else connect(api, "google")["integrationId"]
        api.put("/api/organization/settings", json={"timezone": zone, "locale": "fr"}).raise_for_status()
        now = datetime.now(timezone.utc)
        seeded = [(now - timedelta(seconds=ago), status, None if status == "completed" else (code or "SYNC_FAILED"))
                  for ago, status, code in runs]
        hub.run(hub.services.tasks.drain())  # the initial sync's own run is not part of the sample
        _seed_runs(hub, integration, "org-tz", seeded)
        data = api.get(URL, params={"period": period}).json()["data"]

    days = [d["date"] for d in data["trends"]["syncVolume"]]
    first = days[0]
    local = Counter(at.astimezone(ZoneInfo(zone)).date().isoformat() for at, _, _ in seeded)
    errors = Counter(at.astimezone(ZoneInfo(zone)).date().isoformat() for at, status, _ in seeded if status != "completed")
    assert days[-1] == now.astimezone(ZoneInfo(zone)).date().isoformat()
    assert len(days) == {"day": 1, "week": 7, "month": 30, "quarter": 90}[period]
    for day in data["trends"]["syncVolume"]:
        assert (day["syncs"], day["errors"]) == (local[day["date"]], errors[day["date"]]), day
    inside = [(at, status, code) for at, status, code in seeded if at.astimezone(ZoneInfo(zone)).date().isoformat() >= first]
    failed = [code for _, status, code in inside if status != "completed"]
    assert data["overview"]["totalSyncs"] == len(inside)
    assert data["errors"]["totalErrors"] == len(failed)
    assert {e["error"]: e["count"] for e in data["errors"]["commonErrors"]} == dict(Counter(failed))
    if failed:
        assert abs(sum(e["percentage"] for e in data["errors"]["commonErrors"]) - 1) < 1e-3


def test_cli_prints_the_same_figures_with_sparklines(hub):
    import json
    import os
    import subprocess
    import sys

    control = hub.sandbox("google")
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        control.post("/_control/faults", json={"path": "/calendar/v3/calendars/primary/events", "method": "GET",
                                               "status": 403, "count": 1, "body": FORBIDDEN})
        assert run_sync(api, integration)["status"] == "failed"
        api_data = api.get(URL).json()["data"]
    *quiet, today = api_data["trends"]["responseTime"]
    assert len(quiet) == 6 and all((d["averageTime"], d["calls"]) == ("0ms", 0) for d in quiet)
    assert today["calls"] > 0 and today["averageTime"] != "0ms"
    env = {**os.environ, "AXHUB_DATABASE_URL": hub.config.database_url, "AXHUB_DATA_DIR": str(hub.config.data_dir),
           "AXHUB_SANDBOX": "1"}

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "axhub.cli", "analytics", "--org", "org-1", *args], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    as_json = json.loads(cli("--json"))
    assert as_json["overview"] == api_data["overview"] and as_json["errors"] == api_data["errors"]
    table = cli()
    assert "google" in table and "PERMISSION_DENIED" in table and "50.0%" in table
    spark = next(line for line in table.splitlines() if line.strip().startswith("syncs"))
    assert spark.split("|")[1].endswith("█")  # today holds the week's syncs
    response = next(line for line in table.splitlines() if line.strip().startswith("response"))
    assert response.split("|")[1] == " " * 6 + "█"  # the quiet days' zeros are blanks, as in the syncs line
    bad = subprocess.run([sys.executable, "-m", "axhub.cli", "analytics", "--org", "org-1", "--providers", "nope"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'nope'" in bad.stderr


def test_messages_count_as_a_messaging_providers_syncs(hub):
    """Slack messages delivered and failed show up as Slack's syncs and errors."""

    control = hub.sandbox("slack")
    with hub.client("admin") as api:
        integration = connect(api, "slack", scopes=["messages.send", "channels.read"],
                              settings={"channels": {"default": "#general"}})["integrationId"]
        start = datetime.now(timezone.utc).isoformat()
        for n, channel in enumerate(["#general", "#general", "#nowhere"]):
            api.put(f"/api/integrations/{integration}/settings",
                    json={"settings": {"channels": {"default": channel}}}).raise_for_status()
            notify(hub, "eventReminder", {"eventId": f"e{n}", "title": "T", "start": start}, id=f"sig-an-{n}")
            wait_until(lambda: not api.get(f"/api/integrations/{integration}/webhooks/messages",
                                           params={"status": "pending"}).json()["data"])
        data = api.get(URL, params={"period": "day", "providers": "slack"}).json()["data"]
    slack = data["byProvider"]["slack"]
    assert (slack["syncs"], slack["messagesSent"], slack["successRate"]) == (3, 2, 0.6667)
    assert data["errors"]["commonErrors"] == [{"error": "CONNECTION_ERROR", "count": 1, "percentage": 1.0}]
    assert data["trends"]["syncVolume"][-1] == {"date": data["trends"]["syncVolume"][-1]["date"], "syncs": 3, "errors": 1}
    assert len(control.get("/_control/messages").json()["messages"]) == 2
