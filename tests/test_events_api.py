"""/api/events: the Attendance-X side that calendars sync with."""

import time

import pytest

EVENT = {
    "title": "Formation sécurité",
    "start": "2026-03-15T09:00:00+01:00",
    "end": "2026-03-15T11:00:00+01:00",
    "timezone": "Europe/Paris",
    "description": "Annual safety training",
    "location": "Salle 3",
    "type": "training",
    "private": False,
    "organizer": {"email": "Marie.Dubois@techcorp.com", "name": "Marie Dubois"},
    "attendees": [{"email": "paul@techcorp.com", "name": "Paul"}, {"email": "lea@techcorp.com", "role": "speaker"}],
}


def create(api, **changes):
    response = api.post("/api/events", json={**EVENT, **changes})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_create_read_update_delete(hub):
    with hub.client("manager") as api:
        event = create(api)
        assert event["id"].startswith("evt-")
        assert event["start"] == "2026-03-15T08:00:00Z" and event["timezone"] == "Europe/Paris"
        assert event["organizer"]["email"] == "marie.dubois@techcorp.com"
        assert [a["email"] for a in event["attendees"]] == ["paul@techcorp.com", "lea@techcorp.com"]
        assert api.get(f"/api/events/{event['id']}").json()["data"] == event
        patched = api.patch(f"/api/events/{event['id']}", json={"title": "Formation incendie", "location": None}).json()["data"]
        assert patched["title"] == "Formation incendie" and patched["location"] is None
        assert patched["description"] == EVENT["description"] and patched["updatedAt"] > event["updatedAt"]
        deleted = api.delete(f"/api/events/{event['id']}").json()["data"]
        assert deleted["deleted"] is True
        assert api.get(f"/api/events/{event['id']}").status_code == 404


def test_list_with_date_range_type_and_pagination(hub):
    with hub.client("manager") as api:
        a = create(api, start="2026-03-01T10:00:00Z", end="2026-03-01T11:00:00Z", type="training")
        b = create(api, start="2026-03-10T10:00:00Z", end="2026-03-10T11:00:00Z", type="meeting")
        c = create(api, start="2026-04-01T10:00:00Z", end="2026-04-01T11:00:00Z", type="training")
        ids = lambda **q: [e["id"] for e in api.get("/api/events", params=q).json()["data"]]  # noqa: E731
        assert ids() == [a["id"], b["id"], c["id"]]
        assert ids(start="2026-03-05T00:00:00Z", end="2026-03-31T00:00:00Z") == [b["id"]]
        assert ids(type="training") == [a["id"], c["id"]]
        page = api.get("/api/events", params={"limit": 2, "page": 2}).json()
        assert [e["id"] for e in page["data"]] == [c["id"]]
        assert page["meta"] == {"page": 2, "limit": 2, "total": 3, "totalPages": 2}


@pytest.mark.parametrize("changes,field", [
    ({"title": ""}, "title"),
    ({"end": "2026-03-15T07:00:00Z"}, "end"),
    ({"start": "2026-03-15T09:00:00"}, "start"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"attendees": [{"email": "nope"}]}, "attendees[0].email"),
    ({"attendees": [{"email": "a@x.com"}, {"email": "A@x.com"}]}, "attendees[1].email"),
    ({"colour": "red"}, "colour"),
    ({"start": "tomorrow"}, "start"),
])
def test_bad_events_are_refused_naming_the_field(hub, changes, field):
    with hub.client("manager") as api:
        response = api.post("/api/events", json={**EVENT, **changes})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == field
        assert api.get("/api/events").json()["data"] == []


def test_roles_and_tenancy(hub):
    with hub.client("manager", org="org-a") as a, hub.client("manager", org="org-b") as b, \
            hub.client("member", org="org-a") as member:
        event = create(a)
        assert member.get(f"/api/events/{event['id']}").status_code == 200
        assert member.post("/api/events", json=EVENT).json()["error"]["code"] == "PERMISSION_DENIED"
        assert member.delete(f"/api/events/{event['id']}").status_code == 403
        for call in (b.get, b.delete):
            assert call(f"/api/events/{event['id']}").status_code == 404
        assert b.patch(f"/api/events/{event['id']}", json={"title": "x"}).status_code == 404
        assert b.get("/api/events").json()["data"] == []
    with hub.anonymous() as anon:
        assert anon.get("/api/events").status_code == 401


def test_attendance(hub):
    with hub.client("manager") as api:
        event = create(api)
        empty = api.get(f"/api/events/{event['id']}/attendance").json()["data"]
        assert empty["attendanceRate"] == 0 and {r["status"] for r in empty["records"]} == {"unknown"}
        body = {"records": [{"email": "paul@techcorp.com", "status": "present", "source": "zoom", "durationMinutes": 55}]}
        data = api.put(f"/api/events/{event['id']}/attendance", json=body).json()["data"]
        assert data["present"] == 1 and data["attendees"] == 2 and data["attendanceRate"] == 0.5
        paul = next(r for r in data["records"] if r["email"] == "paul@techcorp.com")
        assert paul["source"] == "zoom" and paul["durationMinutes"] == 55
        bad = api.put(f"/api/events/{event['id']}/attendance", json={"records": [{"email": "x@y.z", "status": "asleep"}]})
        assert bad.status_code == 400 and bad.json()["error"]["field"].startswith("records")


def test_changes_are_signalled_to_plugins(hub):
    """eventCreated/eventUpdated/eventDeleted/attendanceUpdated reach every plugin's notify."""
    from axhub import hookimpl

    heard = []

    class Listener:
        @hookimpl
        def provider_info(self):
            from axhub import ProviderInfo

            return ProviderInfo(slug="listener", name="Listener", type="communication", description="test")

        @hookimpl
        async def notify(self, ctx, notification):
            heard.append((notification.kind, notification.org_id))

    hub.services.plugins.register(Listener(), "listener")
    try:
        with hub.client("manager") as api:
            event = create(api)
            api.patch(f"/api/events/{event['id']}", json={"title": "Renamed"})
            api.patch(f"/api/events/{event['id']}", json={"title": "Renamed"})  # no change, no signal
            api.put(f"/api/events/{event['id']}/attendance", json={"records": [{"email": "paul@techcorp.com", "status": "present"}]})
            api.delete(f"/api/events/{event['id']}")
        deadline = time.monotonic() + 5
        while len(heard) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard == [("eventCreated", "org-1"), ("eventUpdated", "org-1"), ("attendanceUpdated", "org-1"),
                         ("eventDeleted", "org-1")]
    finally:
        hub.services.plugins.pm.unregister(name="listener")
        del hub.services.plugins.records["listener"]
