from axhub.testing import connect


def test_smoke(hub):
    with hub.client("manager") as api:
        data = connect(api, "microsoft", redirectUri="https://app.example.com/integrations/callback")
        print(data)
        r = api.post(f"/api/integrations/{data['integrationId']}/test")
        print(r.json())
        with hub.sandbox("microsoft") as sb:
            print(sb.get("/_control/stats").json())
