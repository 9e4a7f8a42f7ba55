"""Discovery: a plugin distribution built and installed from outside the repository is
found and served with no change to the core; broken and disabled plugins are reported."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from axhub.testing import connect

THIRD_PARTY = '''
"""A third party's calendar provider: OAuth against its own tiny sandbox."""
from litestar import Request, Response, get, post

import axhub
from axhub import Endpoint, Grant, ProviderInfo, Scope, Settings, UserInfo, hookimpl, oauth
from axhub.sandbox import OAuthServer, TokenError, build_app, client_credentials, form_of, redirect

PROFILE = oauth.OAuthProfile()


class CalSettings(Settings):
    calendar_url: str = "/calendars/me"


def sandbox():
    server = OAuthServer(client_id="cal-client", client_secret="cal-secret", prefix="cal")

    @get("/authorize")
    async def authorize(request: Request) -> Response:
        return redirect(server.authorize(dict(request.query_params)))

    @post("/token")
    async def token(request: Request) -> Response:
        form = await form_of(request)
        try:
            server.check_client(*client_credentials(request, form)[:2])
            issued = server.exchange(form.get("code"), form.get("redirect_uri"), form.get("code_verifier"))
        except TokenError as exc:
            return Response({"error": exc.error, "error_description": exc.description}, status_code=exc.status)
        return Response({"access_token": issued.access_token, "token_type": "Bearer", "expires_in": 3600,
                         "refresh_token": issued.refresh_token, "scope": " ".join(issued.scopes)})

    @get("/me")
    async def me(request: Request) -> Response:
        issued = server.bearer(request.headers.get("authorization"))
        if issued is None:
            return Response({"error": "unauthorized"}, status_code=401)
        return Response({"id": "42", "mail": issued.user.email, "displayName": issued.user.name})

    return build_app([authorize, token, me], server=server)


@hookimpl
def provider_info():
    return ProviderInfo(
        slug="caldavish", name="CalDAV-ish", type="calendar", description="A third-party calendar",
        scopes=(Scope("calendar.read", ("cal.read",), ("read_calendar",)),), default_scopes=("calendar.read",),
        settings_type=CalSettings, capabilities=("oauth", "pkce"),
        endpoints={"authorize": Endpoint("https://cal.example/authorize", "/authorize"),
                   "token": Endpoint("https://cal.example/token", "/token"),
                   "me": Endpoint("https://cal.example/me", "/me")},
        sandbox=sandbox, sandbox_client=("cal-client", "cal-secret"),
    )


@hookimpl
def authorize(ctx, request):
    return oauth.authorization_url(ctx, request, PROFILE)


@hookimpl
async def exchange_code(ctx, request, code):
    creds = oauth.to_credentials(await oauth.exchange(ctx, request, code, PROFILE))
    me = (await ctx.call("GET", ctx.endpoint("me"), token=creds.access_token)).json()
    return Grant(credentials=creds, user=UserInfo(id=me["id"], email=me["mail"], name=me["displayName"]))
'''


# The same provider again, declared instead of written: every OAuth hook is the core's,
# from its OAuthProfile (the account's fields under the provider's own names).
DECLARATIVE = THIRD_PARTY.split("@hookimpl\ndef provider_info", 1)[0] + '''
@hookimpl
def provider_info():
    return ProviderInfo(
        slug="declarish", name="Declarish", type="calendar", description="A declared OAuth provider",
        scopes=(Scope("calendar.read", ("cal.read",), ("read_calendar",)),), default_scopes=("calendar.read",),
        settings_type=CalSettings, capabilities=("oauth", "pkce"),
        endpoints={"authorize": Endpoint("https://cal.example/authorize", "/authorize"),
                   "token": Endpoint("https://cal.example/token", "/token"),
                   "me": Endpoint("https://cal.example/me", "/me")},
        sandbox=sandbox, sandbox_client=("cal-client", "cal-secret"),
        oauth2=oauth.OAuthProfile(userinfo_endpoint="me", user_fields=("id", "mail", "displayName")),
    )
'''


def _dist(root: Path, name: str, module: str, code: str) -> Path:
    pkg = root / name
    (pkg / module).mkdir(parents=True)
    (pkg / module / "__init__.py").write_text(code)
    slug = module.removeprefix("axhub_")
    (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""
        [project]
        name = "{name}"
        version = "1.2.3"
        dependencies = ["axhub"]
        [project.entry-points.axhub]
        {slug} = "{module}"
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [tool.hatch.build.targets.wheel]
        packages = ["{module}"]
    """))
    return pkg


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def third_party_plugins(tmp_path_factory):
    """Two distributions written and installed from outside the repository: a working
    provider and one that fails to import."""
    root = tmp_path_factory.mktemp("third-party")
    good = _dist(root, "axhub-caldavish", "axhub_caldavish", THIRD_PARTY)
    broken = _dist(root, "axhub-brokenish", "axhub_brokenish", "raise RuntimeError('missing libfoo')\n")
    declared = _dist(root, "axhub-declarish", "axhub_declarish", DECLARATIVE)
    _pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(good), str(broken), str(declared))
    yield
    _pip("uninstall", "-y", "axhub-caldavish", "axhub-brokenish", "axhub-declarish")


def test_an_installed_third_party_plugin_is_discovered_and_connects(third_party_plugins, make_hub):
    server = make_hub({"AXHUB_PLUGINS": "caldavish,brokenish,google"})
    with server.client("manager") as api:
        providers = {p["slug"]: p for p in api.get("/api/integrations/providers").json()["data"]}
        assert providers["caldavish"]["status"] == "loaded"
        assert providers["caldavish"]["version"] == "1.2.3"
        assert providers["caldavish"]["hooks"] == ["provider_info", "authorize", "exchange_code"]
        assert providers["google"]["status"] == "loaded"  # the hub runs beside the broken one
        assert providers["brokenish"]["status"] == "broken"
        assert "missing libfoo" in providers["brokenish"]["error"]
        data = connect(api, "caldavish")
        assert data["status"] == "connected" and data["userInfo"]["email"] == "marie.dubois@example.com"
        assert data["permissions"] == ["read_calendar"]
        # It offers no connection test: the hub says so instead of failing.
        response = api.post(f"/api/integrations/{data['integrationId']}/test")
        assert response.status_code == 501 and response.json()["error"]["code"] == "PROVIDER_NOT_SUPPORTED"


def test_a_provider_that_declares_its_oauth_profile_gets_the_cores_oauth_hooks(third_party_plugins, make_hub):
    server = make_hub({"AXHUB_PLUGINS": "declarish"})
    with server.client("manager") as api:
        providers = {p["slug"]: p for p in api.get("/api/integrations/providers").json()["data"]}
        assert providers["declarish"]["hooks"] == [
            "provider_info", "authorize", "exchange_code", "refresh", "test_connection", "disconnect"]
        data = connect(api, "declarish")  # the consent URL, the code exchange, the account: the core's
        assert data["status"] == "connected" and data["permissions"] == ["read_calendar"]
        assert data["userInfo"] == {"id": "42", "email": "marie.dubois@example.com", "name": "Marie Dubois"}
        tested = api.post(f"/api/integrations/{data['integrationId']}/test").json()["data"]
        assert tested["connectionStatus"] == "healthy"
        assert "Connected to Declarish as marie.dubois@example.com" in tested["recommendations"]
        gone = api.delete(f"/api/integrations/{data['integrationId']}").json()["data"]
        # No revocation endpoint declared: the report says what the user must do instead.
        assert gone["cleanupStatus"]["tokensRevoked"] is False
        assert any("no token revocation" in note for note in gone["cleanupStatus"]["notes"])


def test_cli_lists_plugins_with_status_and_errors(third_party_plugins, tmp_path):
    env = {**os.environ, "AXHUB_DATA_DIR": str(tmp_path), "AXHUB_PLUGINS": "caldavish,brokenish,google"}
    out = subprocess.run([sys.executable, "-m", "axhub.cli", "plugins", "--json"], env=env, check=True,
                         capture_output=True, text=True).stdout
    records = {r["name"]: r for r in json.loads(out)}
    assert records["caldavish"]["status"] == "loaded" and records["caldavish"]["type"] == "calendar"
    assert records["brokenish"]["status"] == "broken" and "missing libfoo" in records["brokenish"]["error"]
    assert records["slack"]["status"] == "disabled"  # installed, but not in the allow-list
    table = subprocess.run([sys.executable, "-m", "axhub.cli", "plugins"], env=env, check=True,
                           capture_output=True, text=True).stdout
    assert "brokenish" in table and "broken" in table and "RuntimeError: missing libfoo" in table


def test_allow_list_and_deny_list(make_hub):
    allowed = make_hub({"AXHUB_PLUGINS": "google"})
    with allowed.client("manager") as api:
        providers = {p["slug"]: p["status"] for p in api.get("/api/integrations/providers").json()["data"]}
        assert providers["google"] == "loaded"
        assert all(status == "disabled" for slug, status in providers.items() if slug != "google")
        assert api.post("/api/integrations/webhooks/connect", json={}).json()["error"]["code"] == "PROVIDER_NOT_SUPPORTED"
    denied = make_hub({"AXHUB_DISABLE_PLUGINS": "google"})
    with denied.client("manager") as api:
        providers = {p["slug"]: p["status"] for p in api.get("/api/integrations/providers").json()["data"]}
        assert providers["google"] == "disabled" and providers["webhooks"] == "loaded"


def test_empty_allow_list_loads_nothing(make_hub):
    server = make_hub({"AXHUB_PLUGINS": ""})
    with server.client("manager") as api:
        providers = api.get("/api/integrations/providers").json()["data"]
    assert providers and all(p["status"] == "disabled" for p in providers)


def test_a_plugin_that_describes_itself_wrongly_is_broken_not_fatal():
    from axhub import Endpoint, OAuthProfile, ProviderInfo, hookimpl
    from axhub.config import Config
    from axhub.plugins import PluginManager

    class Liar:
        @hookimpl
        def provider_info(self):
            return ProviderInfo(slug="someone-else", name="x", type="calendar", description="")

    class NoInfo:
        @hookimpl
        def authorize(self, ctx, request):
            return "https://x"

    class BadHook:
        @hookimpl
        def provider_info(self):
            return ProviderInfo(slug="badhook", name="x", type="calendar", description="")

        @hookimpl
        def authorize(self, ctx, request, surprise):
            return "https://x"

    manager = PluginManager(Config.from_env({"AXHUB_PLUGINS": "", "AXHUB_JWT_SECRET": "x" * 32,
                                             "AXHUB_VAULT_KEYS": "Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE="}))
    assert "slug is 'someone-else'" in manager.register(Liar(), "liar").error
    assert "no provider_info" in manager.register(NoInfo(), "noinfo").error
    assert "surprise" in manager.register(BadHook(), "badhook").error

    class Declared:
        def __init__(self, slug, capabilities, endpoints):
            self.info = ProviderInfo(slug=slug, name="x", type="calendar", description="", capabilities=capabilities,
                                     endpoints={n: Endpoint(f"https://x/{n}", f"/{n}") for n in endpoints},
                                     oauth2=OAuthProfile(revoke_endpoint="revoke", userinfo_endpoint="me"))

        @hookimpl
        def provider_info(self):
            return self.info

    undeclared = Declared("undeclared", ("oauth",), ("authorize", "token", "me"))
    assert "not declared: revoke" in manager.register(undeclared, "undeclared").error
    not_oauth = Declared("notoauth", (), ("authorize", "token", "revoke", "me"))
    assert "'oauth' is not among the capabilities" in manager.register(not_oauth, "notoauth").error
    assert not manager.loaded()
