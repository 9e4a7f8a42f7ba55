"""The figures of the integrations list (``statistics``) stay right as runs and
deliveries happen: each is checked against the rows themselves, counted here the plain
way (every run, link, message and attempt read back, payloads decoded), after syncs that
complete, fail and only rehearse, and after chat messages delivered with mentions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
from sqlalchemy import select

from axhub.db import DeliveryAttempt, DeliveryMessage, SyncLink, SyncRun
from axhub.sync.options import FINISHED, human
from axhub.testing import connect, connect_synced, notify, run_sync, wait_until

EVENTS = "/calendar/v3/calendars/primary/events"
FORBIDDEN = {"error": {"code": 403, "message": "You need to have writer access to this calendar.",
                       "errors": [{"domain": "calendar", "reason": "requiredAccessLevel",
                                   "message": "You need to have writer access to this calendar."}]}}


def counted(hub, integration_id: str) -> dict:
    """An integration's figures from its rows, without the hub's queries."""
    async def read():
        async with hub.services.db.session() as s:
            runs = (await s.scalars(select(SyncRun).where(SyncRun.integration_id == integration_id))).all()
            links = (await s.scalars(select(SyncLink).where(SyncLink.integration_id == integration_id))).all()
            messages = (await s.scalars(select(DeliveryMessage).where(DeliveryMessage.integration_id == integration_id))).all()
            attempts = (await s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.integration_id == integration_id))).all()
        return runs, links, messages, attempts

    runs, links, messages, attempts = hub.run(read())
    real = [r for r in runs if not r.dry_run]
    finished = [r for r in real if r.status in FINISHED]
    last = max((r for r in real if r.completed_at is not None), key=lambda r: r.completed_at, default=None)
    delivered = [m for m in messages if m.status == "delivered"]
    since = datetime.now(timezone.utc) - timedelta(days=30)
    people = {p for m in delivered if m.delivered_at >= since
              for p in (msgspec.json.decode(m.payload).get("mentions") or [])}
    deliveries = None
    if messages or attempts:
        done = len(delivered) + sum(m.status == "failed" for m in messages)
        deliveries = {
            "messages": len(messages), "delivered": len(delivered),
            "pending": sum(m.status == "pending" for m in messages), "failed": sum(m.status == "failed" for m in messages),
            "attempts": len(attempts), "failedAttempts": sum(a.outcome != "delivered" for a in attempts),
            "successRate": round(len(delivered) / done, 4) if done else None,
            "averageDurationMs": round(sum(a.duration_ms for a in attempts) / len(attempts), 1) if attempts else None,
        }
    return {
        "sync": {"eventsSynced": len(links), "errorCount": sum(r.error_count for r in real),
                 "lastSyncDuration": human(last.duration_ms / 1000, compact=True) if last else None,
                 "successRate": round(sum(r.status == "completed" for r in finished) / len(finished), 4) if finished else None},
        "messaging": {"messagesSent": len(delivered), "channelsConnected": len({m.target for m in delivered}),
                      "activeUsers": len(people)},
        "deliveries": deliveries,
    }


def shown(api, integration_id: str) -> dict:
    """The integration's statistics in the list, checked to be those of its own page."""
    listed = {v["id"]: v for v in api.get("/api/integrations").json()["data"]}
    one = api.get(f"/api/integrations/{integration_id}").json()["data"]
    assert listed[integration_id] == one
    return one["statistics"]


def expected(figures: dict, shape: str) -> dict:
    out = dict(figures[shape])
    if figures["deliveries"] is not None:
        out["deliveries"] = figures["deliveries"]
    return out


def test_a_calendar_s_figures_follow_its_runs(hub):
    control = hub.sandbox("google")
    with hub.client("admin") as api:
        integration = connect_synced(api, "google")
        assert shown(api, integration) == expected(counted(hub, integration), "sync")
        for day in (2, 3, 4):
            api.post("/api/events", json={"title": f"Figure {day}", "start": f"2026-06-{day:02d}T09:00:00Z",
                                          "end": f"2026-06-{day:02d}T10:00:00Z", "timezone": "Europe/Paris"}
                     ).raise_for_status()
        assert run_sync(api, integration)["status"] == "completed"
        figures = counted(hub, integration)
        assert figures["sync"]["eventsSynced"] >= 3
        assert shown(api, integration) == expected(figures, "sync")
        # A run refused by the provider, then a rehearsal: the first counts, the second not.
        control.post("/_control/faults", json={"path": EVENTS, "method": "GET", "status": 403, "count": 1,
                                               "body": FORBIDDEN})
        assert run_sync(api, integration)["status"] == "failed"
        before = shown(api, integration)
        assert before == expected(counted(hub, integration), "sync")
        assert before["successRate"] < 1 and before["errorCount"] >= 1
        run_sync(api, integration, options={"dryRun": True})
        assert shown(api, integration) == before


def test_a_chat_s_figures_follow_its_deliveries(hub):
    control = hub.sandbox("slack")
    control.post("/_control/members", json={"id": "U0ANNE00001", "email": "anne@example.com", "name": "Anne"})
    control.post("/_control/members", json={"id": "U0PAUL00001", "email": "paul@example.com", "name": "Paul"})
    with hub.client("admin") as api:
        integration = connect(api, "slack", scopes=["messages.send", "channels.read", "users.read", "webhook"], settings={
            "channels": {"default": "#general"},
            "userMentions": {"enabled": True, "mentionOrganizers": True, "mentionManagers": True},
        })["integrationId"]
        assert shown(api, integration) == {"messagesSent": 0, "channelsConnected": 0, "activeUsers": 0}
        start = datetime.now(timezone.utc) + timedelta(minutes=15)
        for event, attendees in (("evt-1", [{"email": "paul@example.com", "role": "manager"}]), ("evt-2", [])):
            notify(hub, "eventReminder", {"eventId": event, "title": "Figures", "start": start.isoformat(),
                                          "organizer": {"email": "anne@example.com", "name": "Anne"},
                                          "attendees": attendees})
        wait_until(lambda: counted(hub, integration)["messaging"]["messagesSent"] == 2)
        figures = counted(hub, integration)
        assert figures["messaging"] == {"messagesSent": 2, "channelsConnected": 1, "activeUsers": 2}
        assert shown(api, integration) == expected(figures, "messaging")
        # The filtered list says the same.
        [only] = api.get("/api/integrations", params={"provider": "slack"}).json()["data"]
        assert only["statistics"] == expected(figures, "messaging")
    with hub.client("admin", org="org-2") as other:  # another organisation sees none of it
        assert other.get("/api/integrations").json()["data"] == []
        assert other.get(f"/api/integrations/{integration}").status_code == 404


def test_the_migration_reads_the_mentions_of_messages_stored_before(new_database):
    """Messages stored before the mentions had a table of their own keep counting."""
    import asyncio

    from sqlalchemy import insert, text

    from axhub.db import Database, DeliveryMention, Integration

    url = new_database()

    async def run():
        db = Database(url)
        try:
            await db.upgrade("0008")
            now = datetime.now(timezone.utc)
            row = {c.name: None for c in Integration.__table__.c}
            row.update(id="int-old", org_id="org-1", provider="slack", type="communication", name="Slack",
                       status="connected", settings={}, notifications={}, requested_scopes=[], granted_scopes=[],
                       permissions=[], account={}, connected_by={"id": "u"}, connected_at=now, updated_at=now)
            message = {c.name: None for c in DeliveryMessage.__table__.c}
            message.update(integration_id="int-old", org_id="org-1", provider="slack", target="#general", kind="x",
                           status="delivered", attempts=1, max_retries=5, backoff_multiplier=2.0, created_at=now,
                           delivered_at=now, updated_at=now)
            async with db.session() as s, s.begin():
                await s.execute(insert(Integration.__table__), [row])
                await s.execute(insert(DeliveryMessage.__table__), [
                    {**message, "id": "msg-1", "dedupe_key": "1", "payload": b'{"text":"a","mentions":["U1","U2","U1"]}'},
                    {**message, "id": "msg-2", "dedupe_key": "2", "payload": b'{"text":"b"}'},
                    {**message, "id": "msg-3", "dedupe_key": "3", "payload": b"not json"},
                ])
            await db.upgrade()
            async with db.session() as s:
                found = (await s.execute(select(DeliveryMention.message_id, DeliveryMention.person)
                                         .order_by(DeliveryMention.person))).all()
                version = await s.scalar(text("SELECT version_num FROM alembic_version"))
            return [tuple(f) for f in found], version
        finally:
            await db.dispose()

    found, version = asyncio.run(run())
    assert found == [("msg-1", "U1"), ("msg-1", "U2")] and version == "0009"
