"""Two hubs for the webhook tests, both with 127.0.0.1 opened in the SSRF allow-list
(the receiver is on loopback): ``live`` delivers in the background with short retry
waits; ``timed`` runs no worker and reads a hand-moved clock, so a test drives each
round itself (``deliver_due``) and checks when retries fall due."""

from datetime import datetime, timezone

import pytest

from axhub.testing import Clock, HubServer
from axhub.testing.receiver import Receiver

ALLOW = {"AXHUB_OUTBOUND_ALLOW": "127.0.0.1"}


@pytest.fixture(scope="session")
def _live(new_database, tmp_path_factory):
    env = {**ALLOW, "AXHUB_DELIVERY_RETRY_BASE": "0.05", "AXHUB_DELIVERY_POLL": "0.05", "AXHUB_PROVIDER_TIMEOUT": "5"}
    server = HubServer(new_database(), tmp_path_factory.mktemp("live"), env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _timed(new_database, tmp_path_factory):
    env = {**ALLOW, "AXHUB_DELIVERY_WORKER": "0", "AXHUB_DELIVERY_RETRY_BASE": "5",
           "AXHUB_DELIVERY_DISABLE_AFTER": "3600", "AXHUB_DELIVERY_RETRY_MAX_WAIT": "600", "AXHUB_SIGNING_SECRET_OVERLAP": "600"}
    server = HubServer(new_database(), tmp_path_factory.mktemp("timed"), env, clock=Clock()).start()
    yield server
    server.stop()


@pytest.fixture
def live(_live):
    _live.reset()
    return _live


@pytest.fixture
def timed(_timed):
    _timed.reset()
    _timed.clock.now = datetime.now(timezone.utc)  # receivers check timestamps against the wall clock
    return _timed


@pytest.fixture(scope="session")
def _receiver():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def receiver(_receiver):
    _receiver.reset()
    return _receiver
