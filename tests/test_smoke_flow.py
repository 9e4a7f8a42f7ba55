from axhub.testing import connect


def test_connect_google_end_to_end(hub):
    with hub.client("manager") as api:
        data = connect(api, "google", redirectUri="https://app.example.com/integrations/callback")
        assert data["status"] == "connected"
        assert data["userInfo"]["email"] == "marie.dubois@example.com"
        listed = api.get("/api/integrations").json()["data"]
        assert [i["id"] for i in listed] == [data["integrationId"]]
