"""The spec's shapes for every provider, through the HTTP API against the sandboxes:
``statistics`` in the list and the detail view, zeros where nothing happened."""

from axhub.testing import connect

SYNC_SHAPE = {"eventsSynced", "lastSyncDuration", "errorCount", "successRate"}
MESSAGING_SHAPE = {"messagesSent", "channelsConnected", "activeUsers"}


def test_every_integration_has_statistics_in_the_spec_shape(hub):
    with hub.client("manager") as api:
        ids = {slug: connect(api, slug)["integrationId"] for slug in ("google", "microsoft", "zoom", "slack")}
        hook = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
            "eventCreated": {"url": "https://hooks.example.com/in"}}}})
        assert hook.status_code == 200, hook.text
        ids["webhooks"] = hook.json()["data"]["integrationId"]
        listed = {i["id"]: i["statistics"] for i in api.get("/api/integrations").json()["data"]}
        for slug, integration in ids.items():
            detail = api.get(f"/api/integrations/{integration}").json()["data"]["statistics"]
            assert listed[integration] == detail, slug
            assert detail != {}, slug
            if slug in ("google", "microsoft", "zoom"):
                assert set(detail) >= SYNC_SHAPE, (slug, detail)
                assert detail["errorCount"] >= 0 and detail["eventsSynced"] >= 0
            elif slug == "slack":
                assert set(detail) >= MESSAGING_SHAPE and detail["messagesSent"] == 0
            else:
                assert detail["messagesSent"] == 0 and detail["errorCount"] == 0
                assert detail["deliveries"]["messages"] == 0 and detail["deliveries"]["failed"] == 0


def test_api_limits_have_the_spec_shape_for_every_provider(hub):
    with hub.client("manager") as api:
        ids = {slug: connect(api, slug)["integrationId"] for slug in ("google", "microsoft", "zoom", "slack")}
        hook = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
            "eventCreated": {"url": "https://hooks.example.com/in"}}}})
        ids["webhooks"] = hook.json()["data"]["integrationId"]
        for slug, integration in ids.items():
            tested = api.post(f"/api/integrations/{integration}/test").json()["data"]
            limits = tested["apiLimits"]
            assert limits is not None and {"remaining", "resetAt", "dailyLimit"} <= set(limits), (slug, limits)
            assert limits["callsToday"] >= 0
        google = api.post(f"/api/integrations/{ids['google']}/test").json()["data"]["apiLimits"]
        # No rate-limit headers from Google: its documented quota less the hub's own count.
        assert google["dailyLimit"] == 1_000_000 and google["callsToday"] >= 1
        assert google["remaining"] == google["dailyLimit"] - google["callsToday"]
        assert google["resetAt"].endswith("T00:00:00Z")
