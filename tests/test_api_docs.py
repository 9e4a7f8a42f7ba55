"""docs/api.md tells API clients the truth: its error table is the hub's codes, with
their statuses, and its limits are the server's."""

import re
from pathlib import Path

from axhub.api.guards import MAX_BODY, MAX_DEPTH
from axhub.errors import CODES
from axhub.events.schemas import MAX_ATTENDEES
from axhub.wire import MAX_LIMIT, MAX_PAGE

DOC = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()


def test_the_error_table_lists_every_code_with_its_status():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", DOC, re.M))
    assert {code: int(status) for code, status in rows.items()} == CODES


def test_the_limits_are_the_servers():
    assert f"| request body | {MAX_BODY // 1024 // 1024} MiB |" in DOC
    assert f"| JSON nesting | {MAX_DEPTH} levels" in DOC
    assert f"| `page` | 1 to {MAX_PAGE:,} |" in DOC
    assert f"| `limit` | 1 to {MAX_LIMIT} (default 50) |" in DOC
    assert f"`records` | {MAX_ATTENDEES:,} |" in DOC
