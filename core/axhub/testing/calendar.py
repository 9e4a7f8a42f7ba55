"""Calendar-sync scenarios any calendar plugin's tests can run against its sandbox
(the seed of the conformance suite for calendar plugins).

A plugin gives a :class:`RemoteCalendar`: its sandbox's calendar as a user sees it,
through the provider's own API — and gets them all as tests by subclassing
:class:`CalendarConformance`. Each scenario drives the hub over HTTP (``/api/events``,
``/sync``, ``DELETE /integrations/{id}``) and checks both sides, so the same behaviour
is asked of every provider: events cross both ways once, edits and deletions follow,
an expired cursor is a full resync without duplicates, disconnect removes exactly what
the hub created, and any interleaving of changes converges.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Protocol

import httpx

from . import connect_synced, run_sync

JUNE = ("2026-06-01T09:00:00Z", "2026-06-01T10:00:00Z")
JUNE_2 = ("2026-06-02T09:00:00Z", "2026-06-02T10:00:00Z")


class RemoteCalendar(Protocol):
    """The sandbox's calendar as its user sees it, written by the plugin's tests: plain
    synchronous calls, times as ISO 8601 strings in UTC."""

    def insert(self, title: str, start: str, end: str) -> str:
        """Create an event as the calendar's user would: its id."""

    def rename(self, event_id: str, title: str) -> None:
        """Change an event's title as its user would."""

    def remove(self, event_id: str) -> None:
        """Delete an event as its user would."""

    def titles(self) -> dict[str, str]:
        """The live events: id → title."""

    def expire_cursor(self) -> None:
        """Make the provider refuse the incremental cursor it handed out."""

    def writes(self) -> int:
        """How many write calls the provider has served so far (batched ones included)."""

    def trouble(self, on: bool) -> None:
        """``on``: make the provider answer a share of the next calls with throttling (429
        with ``Retry-After``) and server errors (500, 503), at random but repeatably (the
        first-party sandboxes' ``/_control/chaos``); ``off``: stop."""


class SandboxCalendar:
    """The :class:`RemoteCalendar` of a sandbox built on ``axhub.sandbox.CalendarStore``,
    through its ``/_control/calendar`` routes; ``trouble`` injects a throttled answer (429
    with ``Retry-After: 1``) and a 503 into the calls under ``api_path``."""

    def __init__(self, hub: Any, provider: str, api_path: str) -> None:
        self.control, self.api_path = hub.sandbox(provider), api_path

    def insert(self, title: str, start: str, end: str) -> str:
        """Create an event as the calendar's user would: its id."""
        response = self.control.post("/_control/calendar/events", json={"title": title, "start": start, "end": end})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def rename(self, event_id: str, title: str) -> None:
        """Change an event's title as its user would."""
        assert self.control.patch(f"/_control/calendar/events/{event_id}", json={"title": title}).status_code == 200

    def remove(self, event_id: str) -> None:
        """Delete an event as its user would."""
        assert self.control.delete(f"/_control/calendar/events/{event_id}").json()["ok"]

    def titles(self) -> dict[str, str]:
        """The live events: id → title."""
        return self.control.get("/_control/calendar/events").json()["events"]

    def expire_cursor(self) -> None:
        """Make the sandbox refuse every cursor it handed out."""
        self.control.post("/_control/calendar/expire-cursors")

    def writes(self) -> int:
        """The client's writes the sandbox has served."""
        return self.control.get("/_control/calendar/writes").json()["writes"]

    def trouble(self, on: bool) -> None:
        """``on``: the next call under ``api_path`` is throttled and the third fails with a
        503; ``off``: no more faults."""
        if not on:
            self.control.delete("/_control/faults")
            return
        self.control.post("/_control/faults", json={"path": self.api_path, "status": 429, "headers": {"Retry-After": "1"}})
        self.control.post("/_control/faults", json={"path": self.api_path, "status": 503, "after": 1})


def local_events(api: httpx.Client) -> list[dict[str, Any]]:
    """The organisation's Attendance-X events (``GET /api/events``)."""
    return api.get("/api/events", params={"limit": 500}).json()["data"]


def new_event(api: httpx.Client, title: str, start: str = JUNE[0], end: str = JUNE[1], **extra: Any) -> dict[str, Any]:
    """Create an Attendance-X event (``POST /api/events``); ``extra``: more of its fields."""
    response = api.post("/api/events", json={"title": title, "start": start, "end": end, **extra})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _moved(stats: dict[str, Any]) -> tuple[int, int, int]:
    return stats["eventsCreated"], stats["eventsUpdated"], stats["eventsDeleted"]


def events_cross_once(api: httpx.Client, integration: str, remote: RemoteCalendar) -> None:
    """A local and a remote event each reach the other side; the next sync writes nothing."""
    mine = new_event(api, "Mine")
    remote.insert("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:30:00Z")
    run = run_sync(api, integration)
    assert run["status"] == "completed", run
    assert (run["statistics"]["inbound"]["created"], run["statistics"]["outbound"]["created"]) == (1, 1)
    assert sorted(remote.titles().values()) == ["Mine", "Theirs"]
    theirs = next(e for e in local_events(api) if e["title"] == "Theirs")
    assert (theirs["start"], theirs["end"]) == ("2026-06-05T09:00:00Z", "2026-06-05T10:30:00Z")
    writes = remote.writes()
    again = run_sync(api, integration)
    assert _moved(again["statistics"]) == (0, 0, 0) and remote.writes() == writes
    # The second run listed from the cursor the first one saved, not the whole calendar.
    assert again["statistics"]["fullSync"] is False, again["statistics"]
    assert sorted(e["title"] for e in local_events(api)) == ["Mine", "Theirs"]
    assert next(e for e in local_events(api) if e["title"] == "Mine")["id"] == mine["id"]


def edits_and_deletions_cross(api: httpx.Client, integration: str, remote: RemoteCalendar) -> None:
    """Renames on both sides cross in one run, then deletions on both sides too."""
    mine = new_event(api, "Mine")
    theirs = remote.insert("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z")
    run_sync(api, integration)
    remote_mine = next(i for i, t in remote.titles().items() if t == "Mine")
    local_theirs = next(e for e in local_events(api) if e["title"] == "Theirs")
    api.patch(f"/api/events/{mine['id']}", json={"title": "Mine, renamed"})
    remote.rename(theirs, "Theirs, renamed")
    run = run_sync(api, integration)
    assert run["statistics"]["inbound"]["updated"] == 1 and run["statistics"]["outbound"]["updated"] == 1
    assert sorted(remote.titles().values()) == ["Mine, renamed", "Theirs, renamed"]
    assert sorted(e["title"] for e in local_events(api)) == ["Mine, renamed", "Theirs, renamed"]
    api.delete(f"/api/events/{local_theirs['id']}")
    remote.remove(remote_mine)
    run = run_sync(api, integration)
    assert run["statistics"]["inbound"]["deleted"] == 1 and run["statistics"]["outbound"]["deleted"] == 1
    assert remote.titles() == {} and local_events(api) == []


def expired_cursor_resyncs_without_duplicates(api: httpx.Client, integration: str, remote: RemoteCalendar) -> None:
    """A refused cursor makes the next run a full listing that duplicates and deletes nothing."""
    new_event(api, "A")
    remote.insert("B", "2026-06-08T09:00:00Z", "2026-06-08T10:00:00Z")
    run_sync(api, integration)
    remote.expire_cursor()
    run = run_sync(api, integration)
    assert run["status"] == "completed" and run["statistics"]["fullSync"] is True
    assert (run["statistics"]["eventsCreated"], run["statistics"]["eventsDeleted"]) == (0, 0)
    assert sorted(remote.titles().values()) == ["A", "B"]
    assert sorted(e["title"] for e in local_events(api)) == ["A", "B"]


def filters_never_delete_provider_events(api: httpx.Client, integration: str, remote: RemoteCalendar,
                                         settings: dict[str, Any]) -> None:
    """``settings`` make the adapter's filters refuse an event imported from the provider
    (an ``eventTypes`` filter: imported events are ``external``). Edited in Attendance-X
    afterwards, it stays at the provider: a filter stops the hub sending an event, it
    never deletes what the provider's user made. An event the hub exported that the
    filter now refuses is removed, as the filter asks."""
    theirs = remote.insert("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z")
    new_event(api, "Mine")
    run_sync(api, integration)
    assert sorted(remote.titles().values()) == ["Mine", "Theirs"]
    saved = api.put(f"/api/integrations/{integration}/settings", json={"settings": settings})
    assert saved.status_code == 200, saved.text
    local = next(e for e in local_events(api) if e["title"] == "Theirs")
    assert api.patch(f"/api/events/{local['id']}", json={"title": "Theirs, edited here"}).status_code == 200
    run = run_sync(api, integration)
    assert run["status"] in ("completed", "partial"), run
    assert theirs in remote.titles(), "a filter deleted the user's own provider event"
    assert "Mine" not in remote.titles().values(), "the filter should have taken the exported event off"


def faults_while_listing_are_retried(api: httpx.Client, integration: str, remote: RemoteCalendar,
                                     sandbox: httpx.Client, list_path: str) -> None:
    """The provider throttles the incremental listing (429 with Retry-After), then fails
    the retry (500): the run waits, retries and completes, and nothing is duplicated."""
    new_event(api, "Before")
    run_sync(api, integration)
    remote.insert("During 1", "2026-06-09T09:00:00Z", "2026-06-09T10:00:00Z")
    remote.insert("During 2", "2026-06-10T09:00:00Z", "2026-06-10T10:00:00Z")
    writes = remote.writes()
    sandbox.post("/_control/faults", json={"path": list_path, "method": "GET", "status": 429, "headers": {"Retry-After": "1"}})
    sandbox.post("/_control/faults", json={"path": list_path, "method": "GET", "status": 500})
    run = run_sync(api, integration)
    # The sandbox counts requests that came back before the Retry-After it gave ran out.
    assert sandbox.get("/_control/stats").json()["earlyRetries"] == 0, "the listing was retried before Retry-After"
    # Both faults were met: one more rule added now is the only one left.
    left = sandbox.post("/_control/faults", json={"path": "/_conformance/none", "status": 500}).json()["faults"]
    sandbox.delete("/_control/faults")
    assert left == 1, "the listing never met the injected faults: is list_path right?"
    assert run["status"] == "completed", run
    assert run["statistics"]["inbound"]["created"] == 2 and remote.writes() == writes
    assert sorted(e["title"] for e in local_events(api)) == ["Before", "During 1", "During 2"]
    assert sorted(remote.titles().values()) == ["Before", "During 1", "During 2"]


def disconnect_removes_ours(api: httpx.Client, integration: str, remote: RemoteCalendar) -> dict[str, Any]:
    """Returns ``cleanupStatus`` for provider-specific checks (revocation)."""
    for title in ("Ours 1", "Ours 2", "Ours 3"):
        new_event(api, title)
    remote.insert("Theirs", "2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z")
    run_sync(api, integration)
    assert len(remote.titles()) == 4
    cleanup = api.delete(f"/api/integrations/{integration}").json()["data"]["cleanupStatus"]
    assert cleanup["eventsRemoved"] == 3
    assert list(remote.titles().values()) == ["Theirs"]
    # Attendance-X keeps its own events, the imported one included.
    assert sorted(e["title"] for e in local_events(api)) == ["Ours 1", "Ours 2", "Ours 3", "Theirs"]
    return cleanup


# -- any interleaving converges (hypothesis) ----------------------------------------------

def programs():
    """A hypothesis strategy of change programs for :func:`converges`."""
    from hypothesis import strategies as st

    return st.lists(
        st.one_of(
            st.tuples(st.just("local_create")),
            st.tuples(st.just("remote_create")),
            st.tuples(st.sampled_from(["local_edit", "local_delete", "remote_edit", "remote_delete"]), st.integers(0, 30)),
            st.tuples(st.just("sync"), st.booleans()),
        ),
        min_size=1,
        max_size=14,
    )


def _family(title: str) -> str:
    return re.match(r"^([LR]\d+)", title).group(1)  # type: ignore[union-attr]


def converges(api: httpx.Client, integration: str, remote: RemoteCalendar, program: list[tuple],
              trouble: Callable[[bool], None]) -> None:
    """Play ``program``; ``("sync", True)`` syncs with ``trouble(True)`` on (the provider
    throwing faults), ``trouble(False)`` turns it off. Then both sides hold the same
    events, none twice, none lost that nobody deleted, and one more sync changes nothing."""
    counter = {"L": 0, "R": 0}
    deleted: set[str] = set()
    for op in program:
        kind = op[0]
        if kind == "local_create":
            new_event(api, f"L{counter['L']}")
            counter["L"] += 1
        elif kind == "remote_create":
            remote.insert(f"R{counter['R']}", *JUNE_2)
            counter["R"] += 1
        elif kind in ("local_edit", "local_delete"):
            events = local_events(api)
            if events:
                event = events[op[1] % len(events)]
                if kind == "local_edit":
                    api.patch(f"/api/events/{event['id']}", json={"title": event["title"] + "+"})
                else:
                    api.delete(f"/api/events/{event['id']}")
                    deleted.add(_family(event["title"]))
        elif kind in ("remote_edit", "remote_delete"):
            events = sorted(remote.titles().items())
            if events:
                event_id, title = events[op[1] % len(events)]
                if kind == "remote_edit":
                    remote.rename(event_id, title + "*")
                else:
                    remote.remove(event_id)
                    deleted.add(_family(title))
        else:
            trouble(op[1])
            run_sync(api, integration)
            trouble(False)

    if run_sync(api, integration)["status"] != "completed":
        run_sync(api, integration)
    stats = run_sync(api, integration)["statistics"]
    assert (*_moved(stats), stats["errors"]) == (0, 0, 0, 0)
    local = sorted(e["title"] for e in local_events(api))
    far = sorted(remote.titles().values())
    assert local == far, (program, local, far)
    families = [_family(t) for t in local]
    assert len(families) == len(set(families)), f"duplicates: {local}"
    created = {f"L{i}" for i in range(counter["L"])} | {f"R{i}" for i in range(counter["R"])}
    for name in created - deleted:
        assert name in families, f"{name} was lost: {local} / {program}"


class CalendarConformance:
    """The scenarios as pytest tests. In a plugin's tests::

        class TestConformance(CalendarConformance):
            provider = "google"
            list_path = "/calendar/v3/calendars/primary/events"

            def remote(self, hub):
                return Calendar(hub)   # the plugin's RemoteCalendar
    """

    provider = ""
    list_path = ""  # the sandbox path of the incremental listing (faults are injected there)
    # Settings whose filters refuse an event imported from the provider and one made in
    # Attendance-X (e.g. {"filters": {"eventTypes": ["training"]}}); None: no filters.
    refusing_filters: dict[str, Any] | None = None

    def remote(self, hub: Any) -> RemoteCalendar:
        """The plugin's :class:`RemoteCalendar` on ``hub``'s sandbox: a
        :class:`SandboxCalendar` for a sandbox built on ``axhub.sandbox.CalendarStore``;
        override it for one that is not."""
        return SandboxCalendar(hub, self.provider, self.list_path)

    def check_cleanup(self, cleanup: dict[str, Any]) -> None:
        """Provider-specific checks of ``cleanupStatus`` (revocation, notes)."""

    def _run(self, hub: Any, scenario: Callable[..., Any]) -> Any:
        with hub.client("manager") as api:
            return scenario(api, connect_synced(api, self.provider), self.remote(hub))

    def test_events_cross_once(self, hub: Any) -> None:
        self._run(hub, events_cross_once)

    def test_edits_and_deletions_cross_both_ways(self, hub: Any) -> None:
        self._run(hub, edits_and_deletions_cross)

    def test_expired_cursor_is_a_full_resync_without_duplicates(self, hub: Any) -> None:
        self._run(hub, expired_cursor_resyncs_without_duplicates)

    def test_a_filter_never_deletes_an_event_that_came_from_the_provider(self, hub: Any) -> None:
        import pytest

        if self.refusing_filters is None:
            pytest.skip(f"{self.provider} has no event filters (refusing_filters is None)")
        self._run(hub, lambda api, integration, remote: filters_never_delete_provider_events(
            api, integration, remote, self.refusing_filters))

    def test_throttling_and_server_errors_while_listing_are_retried(self, hub: Any) -> None:
        assert self.list_path, "set list_path: the sandbox path the adapter lists changes from"
        with hub.sandbox(self.provider) as sandbox:
            self._run(hub, lambda api, integration, remote: faults_while_listing_are_retried(
                api, integration, remote, sandbox, self.list_path))

    def test_disconnect_removes_exactly_the_events_the_hub_created(self, hub: Any) -> None:
        self.check_cleanup(self._run(hub, disconnect_removes_ours))

    def test_random_interleavings_converge(self, hub: Any) -> None:
        """Whatever creates, edits and deletes happen on both sides between syncs, and
        whatever faults the provider throws, syncing converges."""
        from hypothesis import HealthCheck, given, settings

        @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(program=programs())
        def check(program: list[tuple]) -> None:
            hub.reset()
            remote = self.remote(hub)
            with hub.client("manager") as api:
                converges(api, connect_synced(api, self.provider), remote, program, remote.trouble)

        check()
