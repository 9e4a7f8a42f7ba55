"""A hub whose delivery worker the test drives (no background worker, a hand-moved
clock): for checking when Slack's throttling lets a message be retried."""

from datetime import datetime, timezone

import pytest

from axhub.testing import Clock, HubServer


@pytest.fixture(scope="session")
def _timed(new_database, tmp_path_factory):
    env = {"AXHUB_DELIVERY_WORKER": "0", "AXHUB_DELIVERY_RETRY_MAX_WAIT": "600"}
    server = HubServer(new_database(), tmp_path_factory.mktemp("slack-timed"), env, clock=Clock()).start()
    yield server
    server.stop()


@pytest.fixture
def timed(_timed):
    _timed.reset()
    _timed.clock.now = datetime.now(timezone.utc)
    return _timed
