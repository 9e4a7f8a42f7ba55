"""Bearer auth, roles and organisation isolation on every /api/integrations route."""

import pytest

from axhub.testing import connect, wait_for_sync

ID = "int-0000000000000000000000"
ROUTES = [
    ("GET", "/api/integrations", None),
    ("GET", "/api/integrations/providers", None),
    ("GET", f"/api/integrations/{ID}", None),
    ("POST", "/api/integrations/google/connect", {}),
    ("POST", "/api/integrations/google/callback", {"code": "c", "state": "s"}),
    ("PUT", f"/api/integrations/{ID}/settings", {"autoSync": False}),
    ("DELETE", f"/api/integrations/{ID}", None),
    ("POST", f"/api/integrations/{ID}/test", None),
]
MANAGER_ROUTES = [r for r in ROUTES if r[1] != "/api/integrations/providers"]


def call(client, method, path, body):
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_no_token_is_401(hub, method, path, body):
    with hub.anonymous() as anon:
        assert_error(call(anon, method, path, body), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"],
)
def test_bad_tokens_are_401(hub, header):
    with hub.anonymous() as anon:
        assert_error(anon.get("/api/integrations", headers={"Authorization": header}), 401, "UNAUTHORIZED")


def test_token_signed_with_another_secret_is_401(hub):
    from axhub.auth import create_token

    forged = create_token("another-secret-entirely-" * 2, org="org-1", role="admin", user="u")
    with hub.anonymous() as anon:
        assert_error(anon.get("/api/integrations", headers={"Authorization": f"Bearer {forged}"}), 401, "UNAUTHORIZED")


def test_expired_token_is_401(hub):
    import time

    token = hub.token("admin", now=time.time() - 7200, ttl=60)
    with hub.anonymous() as anon:
        response = anon.get("/api/integrations", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("method,path,body", MANAGER_ROUTES)
def test_member_is_403(hub, method, path, body):
    with hub.client("member") as member:
        assert_error(call(member, method, path, body), 403, "PERMISSION_DENIED")


def test_member_may_list_providers(hub):
    with hub.client("member") as member:
        assert member.get("/api/integrations/providers").status_code == 200


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_manager_and_admin_may_list(hub, role):
    with hub.client(role) as client:
        response = client.get("/api/integrations")
    assert response.status_code == 200
    assert response.json() == {"success": True, "data": []}


def test_another_organisations_integration_is_404_on_every_route(hub):
    with hub.client("admin", org="org-a") as a, hub.client("admin", org="org-b") as b:
        connected = connect(a, "google")
        integration, sync_id = connected["integrationId"], connected["initialSync"]["syncId"]
        wait_for_sync(a, integration, sync_id)
        for method, path, body in [
            ("GET", f"/api/integrations/{integration}/sync/{sync_id}/status", None),
            ("GET", f"/api/integrations/{integration}/history", None),
            ("POST", f"/api/integrations/{integration}/sync", {}),
            ("GET", f"/api/integrations/{integration}", None),
            ("PUT", f"/api/integrations/{integration}/settings", {"autoSync": False}),
            ("POST", f"/api/integrations/{integration}/test", None),
            ("DELETE", f"/api/integrations/{integration}", None),
        ]:
            assert_error(call(b, method, path, body), 404, "INTEGRATION_NOT_FOUND")
        assert b.get("/api/integrations").json()["data"] == []
        # ...and it is untouched for its owner.
        mine = a.get(f"/api/integrations/{integration}").json()["data"]
        assert mine["status"] == "connected" and mine["settings"]["autoSync"] is True
        assert a.get(f"/api/integrations/{integration}/sync/{sync_id}/status").json()["data"]["status"] == "completed"
        assert_error(a.get(f"/api/integrations/{integration}/sync/sync-0000000000000000000000/status"), 404, "NOT_FOUND")


def test_unknown_integration_is_404(hub):
    with hub.client("admin") as api:
        assert_error(api.get(f"/api/integrations/{ID}"), 404, "INTEGRATION_NOT_FOUND")


def test_unknown_provider_is_provider_not_supported(hub):
    with hub.client("admin") as api:
        response = api.post("/api/integrations/myspace/connect", json={})
    assert_error(response, 404, "PROVIDER_NOT_SUPPORTED")
