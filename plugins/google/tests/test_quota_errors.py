"""Google's usage-limit answers keep their meaning through the HTTP API: a spent daily
quota (403 ``dailyLimitExceeded``/``quotaExceeded``) is API_QUOTA_EXCEEDED, throttling
(403 ``rateLimitExceeded``, 429) is RATE_LIMIT_EXCEEDED — not PERMISSION_DENIED."""

import pytest
from synctools import connect_google

from axhub.testing import run_connection_test


def usage_limit(status, reason):
    return {"path": "/calendar/v3", "status": status, "count": 100, "body": {"error": {
        "code": status, "message": f"{reason} (sandbox)", "status": "PERMISSION_DENIED" if status == 403 else "RESOURCE_EXHAUSTED",
        "errors": [{"domain": "usageLimits", "reason": reason, "message": reason}]}}}


@pytest.mark.parametrize("status, reason, code", [
    (403, "dailyLimitExceeded", "API_QUOTA_EXCEEDED"),
    (403, "quotaExceeded", "API_QUOTA_EXCEEDED"),
    (403, "rateLimitExceeded", "RATE_LIMIT_EXCEEDED"),
    (403, "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"),
    (429, "rateLimitExceeded", "RATE_LIMIT_EXCEEDED"),
    (403, "forbidden", "PERMISSION_DENIED"),
])
def test_connection_test_reports_the_spec_code(hub, status, reason, code):
    with hub.client("manager") as api, hub.sandbox("google") as sandbox:
        integration = connect_google(api)
        assert sandbox.post("/_control/faults", json=usage_limit(status, reason)).status_code in (200, 201)
        try:
            tested = run_connection_test(api, integration)
        finally:
            sandbox.delete("/_control/faults")
    assert tested["connectionStatus"] == "unhealthy"
    assert tested["lastError"]["code"] == code, tested["lastError"]
