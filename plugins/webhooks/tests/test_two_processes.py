"""Two `axhub serve` processes on one PostgreSQL database, each with its delivery worker,
share a burst of webhook messages: every message is delivered, no attempt is sent by
both (no webhook-id reaches the receiver again while it is still answering that id, and
none is answered 2xx twice), and both processes take part.

The receiver answers slowly, so that two sends of one message would overlap there, and
fails the first attempt of some messages, so that their retries are up for grabs by
either process: the lease is what keeps the second attempt from going out twice."""

import hashlib
import json
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from whtools import EVENT, connect, endpoint

from axhub.testing import free_port
from axhub.testing.processes import Processes, socket_owner
from axhub.testing.receiver import Answer, Receiver

EVENTS = 300
DELAY = 0.08  # each answer: long enough for a duplicate send to land on the first one
# Per process, two lanes of two: the burst outlasts the event creation by seconds, so
# the two workers contend for the same due messages round after round.
CONCURRENCY = 4


def fails_first(webhook_id: str) -> bool:
    """One message in eight is refused at its first attempt (stable per message)."""
    return hashlib.sha256(webhook_id.encode()).digest()[0] % 8 == 0


@pytest.mark.slow
def test_two_hub_processes_never_send_one_attempt_twice(new_database, tmp_path):
    url = new_database()
    if url.startswith("sqlite"):
        pytest.skip("several processes share a PostgreSQL database (AXHUB_TEST_DATABASE_URL)")
    ports = {"a": free_port(), "b": free_port()}
    procs = Processes({
        "AXHUB_DATABASE_URL": url, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_PLUGINS": "webhooks",
        "AXHUB_OUTBOUND_ALLOW": "127.0.0.1", "AXHUB_PUBLIC_URL": f"http://127.0.0.1:{ports['a']}",
        "AXHUB_AUTO_MIGRATE": "0", "AXHUB_DELIVERY_CONCURRENCY": str(CONCURRENCY),
        # An idle worker looks again soon: the one whose API did not take an event is
        # not woken by it, and finds it by polling.
        "AXHUB_DELIVERY_POLL": "0.1", "AXHUB_DELIVERY_RETRY_BASE": "0.2",
        # The lease (its default, the provider timeout + 10 s) outlives every attempt
        # here: no lease lapses, so an attempt sent twice is a failed claim, not a takeover.
    })
    seen: Counter[str] = Counter()

    def answer(path, headers):
        webhook_id = headers["webhook-id"]
        seen[webhook_id] += 1  # the receiver's loop is one thread: no lock needed
        refuse = seen[webhook_id] == 1 and fails_first(webhook_id)
        return Answer(status=500 if refuse else 200, delay=DELAY)

    pids: dict[str, int] = {}
    with Receiver(answer=answer, identify=socket_owner(pids)) as receiver:
        try:
            procs.migrate()
            for name, port in ports.items():
                pids[name] = procs.serve(port, log=tmp_path / f"hub-{name}.log").pid
            token = procs.token(role="manager")
            apis = {name: procs.api(port, token) for name, port in ports.items()}
            integration = connect(apis["a"], {"eventCreated": endpoint(receiver.url + "/hook")})["integrationId"]

            # The burst comes in through both processes, from several callers at once.
            def create(i):
                response = apis["ab"[i % 2]].post("/api/events", json={**EVENT, "title": f"E{i}"})
                assert response.status_code == 201, response.text
                return response.json()["data"]["id"]

            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                created = set(pool.map(create, range(EVENTS)))
            assert len(created) == EVENTS

            deadline = time.monotonic() + 30
            while (stats := apis["b"].get(f"/api/integrations/{integration}/webhooks/stats").json()["data"])["delivered"] < EVENTS:
                assert time.monotonic() < deadline, stats
                time.sleep(0.1)
            took = time.monotonic() - started
            time.sleep(0.3)  # anything sent twice would arrive now
            requests = list(receiver.requests)
            messages = apis["a"].get(f"/api/integrations/{integration}/webhooks/messages",
                                     params={"limit": 500}).json()["data"]
        finally:
            procs.close()

    # Every message delivered, once stored.
    assert stats["messages"] == EVENTS and stats["delivered"] == EVENTS, stats
    assert len(messages) == EVENTS and all(m["status"] == "delivered" for m in messages)
    by_id = defaultdict(list)
    for r in requests:
        by_id[r.headers["webhook-id"]].append(r)
    assert {json.loads(rs[0].body)["data"]["id"] for rs in by_id.values()} == created

    # No attempt sent twice: a message's requests came one after the other, one was
    # answered 2xx, and each request is an attempt the hub recorded.
    overlaps = []
    for i, rs in by_id.items():
        rs.sort(key=lambda r: r.arrived)
        overlaps += [(i, a.sender, b.sender, round(a.at - b.arrived, 3)) for a, b in zip(rs, rs[1:]) if b.arrived < a.at]
    assert not overlaps, f"{len(overlaps)} sends while the same message was in flight: {overlaps[:5]}"
    twice = [i for i, rs in by_id.items() if sum(200 <= r.status < 300 for r in rs) != 1]
    assert not twice, twice
    assert stats["attempts"] == len(requests), (stats, len(requests))
    assert {m["id"]: m["attempts"] for m in messages} == {i: len(rs) for i, rs in by_id.items()}
    retried = {i for i in by_id if fails_first(i)}
    assert retried and all(len(by_id[i]) == 2 for i in retried)  # the refused ones were retried, once

    # Both took part: each worker found due messages (its own API's events wake it, and
    # the backlog outlasts the other's polls).
    split = Counter(r.sender for r in requests)
    handed = sum(len({r.sender for r in by_id[i]}) > 1 for i in retried)
    print(f"{len(requests)} requests in {took:.1f} s; split between the processes: {dict(split)}; "
          f"{handed} of {len(retried)} retries made by the other process")
    assert None not in split, split  # every request traced to its process
    assert split["a"] >= 1 and split["b"] >= 1, split
