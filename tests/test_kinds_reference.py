"""The notification kinds reference of docs/plugins.md is generated from the code that
builds the notifications: the real jobs run (reminders, alerts, the weekly report, sync
runs, a failed delivery), every notification they broadcast is heard, and each kind's
``data`` fields and the ``{placeholders}`` ``axhub.templates.values_for`` fills from
them — exactly what a template sees — make the table. The test fails when the docs
drift; ``AXHUB_WRITE_DOCS=1`` rewrites the table."""

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from axhub import ProviderInfo, hookimpl, notifications, templates
from axhub.integrations.test_notice import notice
from axhub.scheduler.jobs import run_job
from axhub.testing import connect, notify, wait_until

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BEGIN, END = "<!-- kinds:begin (tests/test_kinds_reference.py writes this table) -->\n", "<!-- kinds:end -->\n"


def table(heard: dict[str, dict]) -> str:
    rows = ["| kind | notification type | `data` fields | placeholders filled |", "|---|---|---|---|"]
    for kind in notifications.KINDS:
        data = heard[kind]
        filled = templates.values_for(data, templates.Formatter())
        rows.append(f"| `{kind}` | `{notifications.KINDS[kind][0]}` | {', '.join(f'`{k}`' for k in sorted(data))} "
                    f"| {', '.join('`{' + p + '}`' for p in sorted(filled))} |")
    return "\n".join(rows) + "\n"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_the_kinds_table_is_what_the_code_sends(hub):
    heard: dict[str, dict] = {}

    class Listener:
        @hookimpl
        def provider_info(self):
            return ProviderInfo(slug="listener", name="Listener", type="communication", description="test")

        @hookimpl
        async def notify(self, ctx, notification):
            heard.setdefault(notification.kind, notification.data)

    def job(name, at):
        hub.run(run_job(hub.services, name, at))
        hub.run(hub.services.tasks.drain())

    hub.services.plugins.register(Listener(), "listener")
    try:
        with hub.client("manager") as api:
            google = connect(api, "google")["integrationId"]
            hub.run(hub.services.tasks.drain())  # the initial sync
            api.put(f"/api/integrations/{google}/settings",
                    json={"notifications": {"weeklyReport": True, "syncSuccess": True}}).raise_for_status()
            people = [{"email": f"p{i}@techcorp.com", "name": f"P{i}"} for i in range(4)]
            start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
            for begins, title in ((start, "Atelier"), (start - timedelta(hours=3), "Bilan")):
                created = api.post("/api/events", json={
                    "title": title, "start": iso(begins), "end": iso(begins + timedelta(hours=1)), "location": "Salle 2",
                    "type": "training", "organizer": {"email": "anne@techcorp.com", "name": "Anne"}, "attendees": people})
                assert created.status_code == 201, created.text
            ended = created.json()["data"]["id"]
            api.put(f"/api/events/{ended}/attendance",
                    json={"records": [{"email": "p0@techcorp.com", "status": "present"}]}).raise_for_status()
            job("reminders", start - timedelta(minutes=15))
            job("attendance-alerts", start)
            monday = (start + timedelta(days=7 - start.weekday())).replace(hour=8, minute=0, second=0)
            job("weekly-report", monday)
            with hub.sandbox("google") as google_sandbox:
                for faults in (False, True):
                    if faults:
                        google_sandbox.post("/_control/faults", json={"path": "/calendar/v3", "status": 400, "count": 100})
                    # 409 while the previous run is still closing.
                    wait_until(lambda: api.post(f"/api/integrations/{google}/sync", json={}).status_code == 202)
                    kind = "syncErrorNotification" if faults else "syncSuccessNotification"
                    deadline = time.monotonic() + 30
                    while kind not in heard:
                        assert time.monotonic() < deadline, sorted(heard)
                        hub.run(hub.services.tasks.drain())
                        time.sleep(0.05)
            # A message the provider refuses for good: the delivery worker's integrationError.
            slack = connect(api, "slack", settings={"channels": {"default": "#general"}})["integrationId"]
            hub.sandbox("slack").post("/_control/faults", json={"path": "/api/chat.postMessage", "status": 403, "count": 20})
            notify(hub, "syncErrorNotification", {"provider": "google", "message": "x"})
            wait_until(lambda: "integrationError" in heard or hub.run(hub.services.tasks.drain()))
    finally:
        hub.run(hub.services.tasks.drain())
        hub.services.plugins.pm.unregister(name="listener")
        del hub.services.plugins.records["listener"]
    heard[notifications.TEST_KIND] = notice(slack, "org", "Slack", datetime.now(timezone.utc)).data
    expected = table(heard)
    text = DOCS.read_text()
    assert BEGIN in text and END in text, "docs/plugins.md lost the kinds table's markers"
    current = text.split(BEGIN, 1)[1].split(END, 1)[0]
    if os.environ.get("AXHUB_WRITE_DOCS") == "1" and current != expected:
        DOCS.write_text(text.replace(BEGIN + current + END, BEGIN + expected + END))
        current = expected
    assert current == expected, "docs/plugins.md's kinds table is not what the code sends; " \
                                "run this test with AXHUB_WRITE_DOCS=1 to rewrite it:\n" + expected
