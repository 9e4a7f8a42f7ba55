"""A hub process killed in the middle of an Outlook sync loses nothing and duplicates nothing."""

import pytest

from axhub.testing.crash import Drill, kill_mid_push

DRILL = Drill(
    provider="microsoft",
    seed=lambda control, n: control.post("/_control/outlook/seed",
                                         json={"count": n, "start": "2026-09-01T08:00:00Z", "prefix": "Remote"}),
    slow_batches={"path": "/v1.0/$batch", "status": 0, "delay": 0.4, "count": 100},
    batches=lambda counters: counters.get("graph.batch", 0),
    titles=lambda control: [e["subject"] for e in control.get("/_control/outlook/events").json()["value"]],
)


@pytest.mark.slow
def test_kill_minus_nine_mid_sync_then_resume(new_database, tmp_path):
    kill_mid_push(DRILL, new_database(), tmp_path)
