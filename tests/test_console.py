"""The console over HTTP: its session cookie, CSRF on every form, roles and tenancy,
and its forms refusing what the API refuses with the same field and nothing written."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

FORMS = [  # every form the console posts, with the path its integration id goes into
    "/console/sign-in", "/console/demo-sign-in", "/console/sign-out",
    "/console/integrations/connect/webhooks", "/console/oauth/google/callback",
    "/console/integrations/{id}/settings", "/console/integrations/{id}/test", "/console/integrations/{id}/sync",
    "/console/integrations/{id}/disconnect", "/console/integrations/{id}/deliveries/replay",
    "/console/integrations/{id}/deliveries/rotate-secret", "/console/integrations/{id}/deliveries/msg-1/resend",
]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def console(hub, role: str = "manager", org: str = "org-1") -> tuple[httpx.Client, str]:
    """A browser-like client signed in through the sign-in form, and its CSRF token."""
    client = hub.anonymous()
    csrf = csrf_of(client.get("/console/sign-in").text)
    answer = client.post("/console/sign-in", data={"csrf": csrf, "token": hub.token(role, org=org)})
    assert answer.status_code == 303, answer.text
    return client, csrf


def webhooks(hub, org: str = "org-1") -> str:
    answer = hub.client("manager", org=org).post("/api/integrations/webhooks/connect", json={})
    return answer.json()["data"]["integrationId"]


def test_the_session_cookie_is_signed_httponly_strict_and_secure_over_https(hub):
    client = hub.anonymous()
    first = client.get("/console/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in first.headers["set-cookie"].lower()
    csrf = csrf_of(client.get("/console/sign-in").text)
    token = hub.token("manager")
    answer = client.post("/console/sign-in", data={"csrf": csrf, "token": token})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "secure" not in cookie.lower()  # plain http on loopback
    assert token not in answer.headers["location"]  # never in a URL
    assert client.get("/console/integrations").status_code == 200
    # A cookie whose signature does not match is no session.
    value = client.cookies["axhub_console"]
    client.cookies.set("axhub_console", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/console")
    assert client.get("/console/integrations").headers["location"] == "/console/sign-in"
    # Nor is a well-signed one of a token that has expired.
    client.cookies.clear()
    stale = hub.token("manager", ttl=-120)
    client.get("/console/sign-in")
    csrf = csrf_of(client.get("/console/sign-in").text)
    assert client.post("/console/sign-in", data={"csrf": csrf, "token": stale}).status_code == 401


@pytest.mark.parametrize("path", FORMS)
def test_every_form_refuses_a_post_without_its_csrf_token(hub, path):
    client, csrf = console(hub)
    integration = webhooks(hub)
    before = hub.client("manager").get(f"/api/integrations/{integration}").json()["data"]
    for sent in ({}, {"csrf": "forged"}, {"csrf": csrf + "x"}):
        answer = client.post(path.format(id=integration), data={**sent, "token": hub.token("admin"), "syncInterval": "60"})
        assert answer.status_code == 403, (path, answer.text)
        assert "security token" in answer.text
    assert hub.client("manager").get(f"/api/integrations/{integration}").json()["data"] == before
    # The token is bound to the browser's own CSRF cookie: another browser's is refused.
    other, other_csrf = console(hub)
    assert other.post(path.format(id=integration), data={"csrf": csrf}).status_code == 403


def test_another_organisations_integration_is_not_found(hub):
    client, csrf = console(hub, org="org-1")
    theirs = webhooks(hub, org="org-2")
    assert client.get(f"/console/integrations/{theirs}").status_code == 404
    answer = client.post(f"/console/integrations/{theirs}/disconnect", data={"csrf": csrf})
    assert answer.status_code == 404 and "INTEGRATION_NOT_FOUND" in answer.text
    assert hub.client("manager", org="org-2").get(f"/api/integrations/{theirs}").json()["data"]["status"] == "connected"
    listed = client.get("/console/integrations").text
    assert theirs not in listed


def test_roles_members_cannot_sign_in_managers_do_not_see_admin_pages(hub):
    client = hub.anonymous()
    csrf = csrf_of(client.get("/console/sign-in").text)
    answer = client.post("/console/sign-in", data={"csrf": csrf, "token": hub.token("member")})
    assert answer.status_code == 403 and "axhub_console" not in answer.headers.get("set-cookie", "")
    manager, _ = console(hub, "manager")
    for page in ("/console/analytics", "/console/operators"):
        assert manager.get(page).status_code == 403
    admin, _ = console(hub, "admin")
    for page in ("/console/analytics", "/console/operators"):
        assert admin.get(page).status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(interval=st.one_of(st.integers(-10**6, 10**7).map(str), st.text(max_size=12)))
def test_the_settings_form_refuses_what_the_api_refuses_and_saves_what_it_saves(hub, interval):
    client, csrf = console(hub)
    api = hub.client("manager")
    integration = api.post("/api/integrations/google/connect", json={}).json()["data"]
    # Connected through the sandbox's consent, as the browser would.
    consent = httpx.get(integration["authUrl"], follow_redirects=False).headers["location"]
    code = re.search(r"code=([^&]+)", consent).group(1)
    row = api.post("/api/integrations/google/callback", json={"code": code, "state": integration["state"]}).json()["data"]
    integration_id = row["integrationId"]
    before = api.get(f"/api/integrations/{integration_id}").json()["data"]["settings"]
    raw = interval.strip()
    body = {"syncInterval": int(raw) if re.fullmatch(r"-?\d+", raw) else raw}
    answer = client.post(f"/console/integrations/{integration_id}/settings",
                         data={"csrf": csrf, "syncDirection": before["syncDirection"], "autoSync": "on",
                               "syncInterval": interval})
    reference = api.put(f"/api/integrations/{integration_id}/settings", json={**body, "autoSync": True,
                                                                             "syncDirection": before["syncDirection"]})
    if reference.status_code == 200:
        assert answer.status_code == 303
    else:
        error = reference.json()["error"]
        assert answer.status_code == reference.status_code
        assert error["message"] in answer.text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&") \
            or error["message"] in answer.text
        assert 'id="syncInterval-error"' in answer.text  # beside the field at fault
        assert api.get(f"/api/integrations/{integration_id}").json()["data"]["settings"] == before
    hub.reset()


def test_the_notification_switches_save_what_put_settings_saves(hub):
    client, csrf = console(hub)
    integration = webhooks(hub)
    api = hub.client("manager")
    page = client.get(f"/console/integrations/{integration}").text
    # The switches show the integration's preferences (the spec's defaults: errors only).
    assert re.search(r'id="syncErrors" name="syncErrors" checked', page)
    assert not re.search(r'id="weeklyReport" name="weeklyReport" checked', page)
    answer = client.post(f"/console/integrations/{integration}/settings",
                         data={"csrf": csrf, "syncSuccess": "on", "weeklyReport": "on"})
    assert answer.status_code == 303, answer.text
    # An unticked box is not posted: that switch is off.
    assert api.get(f"/api/integrations/{integration}").json()["data"]["notifications"] == {
        "syncErrors": False, "syncSuccess": True, "weeklyReport": True}
    page = client.get(f"/console/integrations/{integration}").text
    assert re.search(r'id="weeklyReport" name="weeklyReport" checked', page)
    assert not re.search(r'id="syncErrors" name="syncErrors" checked', page)
    # A refused save writes none of it: the switches stay as they were.
    answer = client.post(f"/console/integrations/{integration}/settings",
                         data={"csrf": csrf, "syncErrors": "on", "settings": "[1]"})
    assert answer.status_code == 400
    assert api.get(f"/api/integrations/{integration}").json()["data"]["notifications"]["syncErrors"] is False
    hub.reset()


def test_every_page_loads_only_the_hubs_own_assets(hub):
    client, _ = console(hub, "admin")
    integration = webhooks(hub)
    pages = ["/console/sign-in", "/console/integrations", f"/console/integrations/{integration}",
             f"/console/integrations/{integration}/deliveries", "/console/analytics", "/console/operators"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        for url in re.findall(r'(?:src|href)="([^"]*)"', answer.text):
            assert url.startswith(("/", "?", "#")), (path, url)  # nothing from another origin
            if url.startswith("/console/static/"):
                assert client.get(url).status_code == 200
    assert hub.anonymous().get("/").headers["location"] == "/console"


@pytest.mark.parametrize("form, body", [
    ({"scope": "all", "start": "2026-03-02T10:00", "end": "2026-03-01T10:00"},
     {"scope": "all", "options": {"dateRange": {"start": "2026-03-02T10:00:00Z", "end": "2026-03-01T10:00:00Z"}}}),
    ({"scope": "sometimes"}, {"scope": "sometimes"}),
    ({"scope": "all", "direction": "sideways"}, {"scope": "all", "direction": "sideways"}),
])
def test_the_sync_form_refuses_what_post_sync_refuses_and_starts_nothing(hub, form, body):
    client, csrf = console(hub)
    api = hub.client("manager")
    started = api.post("/api/integrations/google/connect", json={}).json()["data"]
    consent = httpx.get(started["authUrl"], follow_redirects=False).headers["location"]
    code = re.search(r"code=([^&]+)", consent).group(1)
    integration = api.post("/api/integrations/google/callback", json={"code": code, "state": started["state"]}).json()["data"]["integrationId"]
    reference = api.post(f"/api/integrations/{integration}/sync", json=body)
    answer = client.post(f"/console/integrations/{integration}/sync", data={"csrf": csrf, **form})
    error = reference.json()["error"]
    assert answer.status_code == reference.status_code == 400
    assert error["code"] in answer.text and error["field"] in answer.text
    assert api.get(f"/api/integrations/{integration}/history").json()["meta"]["total"] == 1  # the first sync only
