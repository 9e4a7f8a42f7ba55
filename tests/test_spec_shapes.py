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
