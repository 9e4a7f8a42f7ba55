"""Property: whatever local and remote creates, edits and deletes happen between syncs,
and whatever faults Google throws, syncing converges — both sides hold the same events,
none twice, none lost that nobody deleted — and a sync after that changes nothing."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synctools import Calendar, connect_google, sync

ops = st.lists(
    st.one_of(
        st.tuples(st.just("local_create")),
        st.tuples(st.just("remote_create")),
        st.tuples(st.sampled_from(["local_edit", "local_delete", "remote_edit", "remote_delete"]), st.integers(0, 30)),
        st.tuples(st.just("sync"), st.booleans()),
    ),
    min_size=1,
    max_size=14,
)


def family(title: str) -> str:
    return re.match(r"^([LR]\d+)", title).group(1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(program=ops)
def test_random_interleavings_converge(hub, program):
    hub.reset()
    cal = Calendar(hub)
    with hub.client("manager") as api:
        integration = connect_google(api)
        counter = {"L": 0, "R": 0}
        deleted: set[str] = set()

        def local_list():
            return api.get("/api/events", params={"limit": 500}).json()["data"]

        def remote_list():
            return cal.events()

        for op in program:
            kind = op[0]
            if kind == "local_create":
                name = f"L{counter['L']}"
                counter["L"] += 1
                api.post("/api/events", json={"title": name, "start": "2026-06-01T09:00:00Z", "end": "2026-06-01T10:00:00Z"})
            elif kind == "remote_create":
                name = f"R{counter['R']}"
                counter["R"] += 1
                cal.insert(name, "2026-06-02T09:00:00Z", "2026-06-02T10:00:00Z")
            elif kind in ("local_edit", "local_delete"):
                events = local_list()
                if events:
                    event = events[op[1] % len(events)]
                    if kind == "local_edit":
                        api.patch(f"/api/events/{event['id']}", json={"title": event["title"] + "+"})
                    else:
                        api.delete(f"/api/events/{event['id']}")
                        deleted.add(family(event["title"]))
            elif kind in ("remote_edit", "remote_delete"):
                events = remote_list()
                if events:
                    event = events[op[1] % len(events)]
                    if kind == "remote_edit":
                        cal.api("PATCH", f"/{event['id']}", json={"summary": event["summary"] + "*"})
                    else:
                        cal.api("DELETE", f"/{event['id']}")
                        deleted.add(family(event["summary"]))
            else:
                if op[1]:
                    cal.control.post("/_control/chaos", json={"rate": 0.15, "statuses": [429, 500, 503], "seed": len(program)})
                sync(api, integration)
                cal.control.delete("/_control/chaos")

        first = sync(api, integration)
        if first["status"] != "completed":
            sync(api, integration)
        second = sync(api, integration)
        stats = second["statistics"]
        assert (stats["eventsCreated"], stats["eventsUpdated"], stats["eventsDeleted"], stats["errors"]) == (0, 0, 0, 0)

        local = sorted(e["title"] for e in local_list())
        remote = sorted(e["summary"] for e in remote_list())
        assert local == remote, (program, local, remote)
        families = [family(t) for t in local]
        assert len(families) == len(set(families)), f"duplicates: {local}"
        created = {f"L{i}" for i in range(counter["L"])} | {f"R{i}" for i in range(counter["R"])}
        for name in created - deleted:
            assert name in families, f"{name} was lost: {local} / {program}"
