"""The spec's shapes where the hub once drifted from them: one run read in two
vocabularies (and filtered in either), a callback whose initialSync is always an
object, a sync in a direction the provider cannot do refused by name, statistics in
the spec's shape for every provider, zeros where nothing happened."""

from axhub.testing import connect, connect_synced


def test_history_filters_take_the_status_words_of_either_view(hub):
    with hub.client("manager") as api:
        integration = connect_synced(api, "google")
        run = api.get(f"/api/integrations/{integration}/history").json()["data"][0]
        assert run["status"] == "success"
        status = api.get(f"/api/integrations/{integration}/sync/{run['id']}/status").json()["data"]
        assert status["status"] == "completed"  # the same run, in the status view's word
        for word in ("success", "completed"):
            found = api.get(f"/api/integrations/{integration}/history", params={"status": word}).json()["data"]
            assert [r["id"] for r in found] == [run["id"]], word
        for word in ("error", "failed", "partial"):
            assert api.get(f"/api/integrations/{integration}/history", params={"status": word}).json()["data"] == []
        refused = api.get(f"/api/integrations/{integration}/history", params={"status": "done"})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "status"


def test_initial_sync_is_always_an_object(hub):
    with hub.client("manager") as api:
        google = connect(api, "google")
        assert google["initialSync"]["status"] == "scheduled" and google["initialSync"]["syncId"]
        slack = connect(api, "slack")
        assert slack["initialSync"] == {"status": "skipped", "reason": "slack integrations do not sync"}


def test_a_direction_the_provider_cannot_sync_in_is_refused_by_name(hub):
    with hub.client("manager") as api:
        zoom = connect_synced(api, "zoom")
        refused = api.post(f"/api/integrations/{zoom}/sync", json={"direction": "bidirectional"})
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["field"] == "direction"
        assert "attendance_to_external" in error["message"]
        assert api.post(f"/api/integrations/{zoom}/sync", json={"direction": "attendance_to_external"}).status_code == 202
        unknown = api.post(f"/api/integrations/{zoom}/sync", json={"direction": "sideways"})
        assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "direction"


def test_every_integration_has_statistics_in_the_specs_shape(hub):
    with hub.client("manager") as api:
        zoom = connect(api, "zoom")["integrationId"]
        hooks = api.post("/api/integrations/webhooks/connect", json={"settings": {"webhooks": {
            "eventCreated": {"url": "https://receiver.example.com/hooks"}}}}).json()["data"]["integrationId"]
        slack = connect(api, "slack")["integrationId"]
        views = {i["id"]: i["statistics"] for i in api.get("/api/integrations").json()["data"]}
    # Zoom syncs (meetings follow events): the calendar figures, zeros before a run ends.
    assert set(views[zoom]) >= {"eventsSynced", "lastSyncDuration", "errorCount", "successRate"}
    assert views[zoom]["eventsSynced"] == 0
    assert views[hooks]["deliveries"] == {"messages": 0, "delivered": 0, "pending": 0, "failed": 0, "attempts": 0,
                                          "failedAttempts": 0, "successRate": None, "averageDurationMs": None}
    assert views[slack] == {"messagesSent": 0, "channelsConnected": 0, "activeUsers": 0}
# ``statistics`` for every provider, in the list and the detail view alike.

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
