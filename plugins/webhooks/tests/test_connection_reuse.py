"""A burst of deliveries keeps its connections to the receiver open for the next one:
the hub's client pools as many idle connections as the worker has requests in flight,
instead of httpx's default of 20 (which would make every delivery past the 20th
reconnect, round after round)."""

import pytest
from whtools import EVENT, connect, deliver_due, endpoint

from axhub.testing.receiver import Answer, Receiver


class ConnectionCountingReceiver(Receiver):
    """Also records the client port of every request: one port, one TCP connection."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ports: list[int] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.ports.append(scope["client"][1])
        await super().__call__(scope, receive, send)


@pytest.fixture
def slow_receiver():
    # Slow enough that a round's requests are all in flight at once, each on its own
    # connection; far quicker than the receiver's keep-alive timeout (5 s).
    with ConnectionCountingReceiver(default=Answer(delay=0.3)) as receiver:
        yield receiver


def test_a_round_reuses_every_connection_of_the_round_before(timed, slow_receiver):
    api = timed.client("manager")
    connect(api, {"eventCreated": endpoint(slow_receiver.url + "/hook")})
    batch = timed.services.worker.batch
    assert batch > 20  # more than httpx keeps alive by default: the case this test is about
    rounds = 3
    for i in range(batch * rounds):
        assert api.post("/api/events", json={**EVENT, "title": f"E{i}"}).status_code == 201
    per_round = []
    for _ in range(rounds):
        seen = len(slow_receiver.ports)
        assert deliver_due(timed) == batch
        per_round.append(set(slow_receiver.ports[seen:]))
    first = per_round[0]
    assert len(first) == batch  # the first round opened one connection per request in flight
    for later in per_round[1:]:
        assert later == first, f"{len(later - first)} new connections in a later round"
