"""The conformance suite: what every provider plugin must honour, checked against the
plugin's own sandbox through the hub's public HTTP API.

A plugin's tests turn it on by subclassing, with a few class attributes::

    from axhub.testing.conformance import ProviderConformance

    class TestConformance(ProviderConformance):
        provider = "caldavish"

Calendar plugins also subclass :class:`axhub.testing.calendar.CalendarConformance`
(the sync engine's contract). The checks read the plugin's own ``provider_info`` (its
capabilities say whether it does OAuth, PKCE, refresh), so a plugin only states what
the metadata cannot: ``connect_body`` (extra fields of ``POST /connect``, e.g. settings
a provider needs to connect) and, where it genuinely cannot honour a check, ``skip`` —
the check's name mapped to the reason, shown in the test report.

The checks need a sandbox built on :mod:`axhub.sandbox` (``OAuthServer`` behind its
token endpoint and its ``/_control`` routes: ``config``, ``revoke-all``,
``expire-access-tokens``, ``stats``).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from . import (begin_connect, connect, finish_connect, follow_consent, integration, notify, run_connection_test,
               wait_for_sync, wait_until)

PROVIDER_TYPES = ("calendar", "communication", "video", "webhook", "crm", "storage")
TEST_SHAPE = {"connectionStatus", "responseTime", "permissions", "apiLimits", "lastError", "recommendations"}
# An integration that syncs also says whether it is pushed to or polled (docs/push.md).
SYNCING_TEST_SHAPE = TEST_SHAPE | {"push"}
# Shorter than the vault's refresh margin (300 s): every use of the token refreshes it first.
ALWAYS_DUE = 10


class ProviderConformance:
    """Metadata, the OAuth round trip (state, PKCE where declared), refresh (a dead grant
    is INVALID_CREDENTIALS, a rotated refresh token is kept) and ``test_connection``'s
    answer, for one provider. Uses the ``hub`` fixture (override it to run elsewhere)."""

    provider: ClassVar[str] = ""
    connect_body: ClassVar[dict[str, Any]] = {}
    skip: ClassVar[dict[str, str]] = {}

    # -- helpers -----------------------------------------------------------------------
    def _skip(self, check: str) -> None:
        if check in self.skip:
            pytest.skip(self.skip[check])

    def info(self, hub: Any) -> dict[str, Any]:
        """The provider as ``GET /api/integrations/providers`` lists it."""
        with hub.client("manager") as api:
            providers = api.get("/api/integrations/providers").json()["data"]
        found = [p for p in providers if p["slug"] == self.provider]
        assert found, f"{self.provider!r} is not installed (pip install -e your plugin)"
        return found[0]

    def _needs(self, hub: Any, capability: str) -> dict[str, Any]:
        info = self.info(hub)
        if capability not in info.get("capabilities", []):
            pytest.skip(f"{self.provider} does not declare {capability!r}")
        return info

    def connected(self, api: httpx.Client) -> str:
        """Connect through the whole flow (and let an initial sync finish): the id."""
        data = connect(api, self.provider, **self.connect_body)
        if data.get("initialSync", {}).get("syncId"):  # a provider that syncs: its first run
            wait_for_sync(api, data["integrationId"], data["initialSync"]["syncId"])
        return data["integrationId"]

    # -- metadata ----------------------------------------------------------------------
    def test_metadata_is_valid_and_complete(self, hub: Any) -> None:
        self._skip("metadata")
        info = self.info(hub)
        assert info["status"] == "loaded", info.get("error")
        assert info["version"], "the distribution has no version"
        assert info["name"] and info["description"] and info["type"] in PROVIDER_TYPES
        assert info["scopes"], "declare at least one scope"
        names = [s["name"] for s in info["scopes"]]
        for scope in info["scopes"]:
            assert scope["permissions"], f"scope {scope['name']} grants no permission"
            assert scope["description"], f"scope {scope['name']} has no description"
        assert info["defaultScopes"] and set(info["defaultScopes"]) <= set(names)
        assert info["settingsSchema"], "settings_type has no JSON schema"
        hooks, capabilities = set(info["hooks"]), set(info["capabilities"])
        assert "provider_info" in hooks
        needed = {"oauth": {"authorize", "exchange_code"}, "refresh": {"refresh"}, "notify": {"notify", "deliver"},
                  "calendar_sync": {"sync"}}
        for capability, wanted in needed.items():
            if capability in capabilities:
                assert wanted <= hooks, f"capability {capability!r} needs the hooks {sorted(wanted - hooks)}"
        if "pkce" in capabilities or "refresh" in capabilities:
            assert "oauth" in capabilities
        assert "test_connection" in hooks, "implement test_connection (the hub's health checks call it)"
        if "sandbox" not in self.skip:
            assert info["sandbox"], "declare a sandbox (ProviderInfo.sandbox): the suite runs against it"

    # -- OAuth -------------------------------------------------------------------------
    def test_oauth_round_trip_with_state_and_pkce(self, hub: Any) -> None:
        self._skip("oauth")
        info = self._needs(hub, "oauth")
        with hub.client("manager") as api, hub.sandbox(self.provider) as sandbox:
            start = begin_connect(api, provider=self.provider, **self.connect_body)
            query = parse_qs(urlsplit(start["authUrl"]).query)
            assert query.get("state") == [start["state"]] and len(start["state"]) >= 32
            if "pkce" in info["capabilities"]:
                assert query.get("code_challenge_method") == ["S256"] and len(query["code_challenge"][0]) == 43
            else:
                assert "code_challenge" not in query
            back = follow_consent(start["authUrl"])
            assert back.get("state") == start["state"] and back.get("code"), back
            forged = finish_connect(api, back["code"], "forged-" + back["state"], provider=self.provider)
            assert forged.status_code == 400 and forged.json()["error"]["code"] == "OAUTH_ERROR"
            assert api.get("/api/integrations").json()["data"] == []
            done = finish_connect(api, back["code"], back["state"], provider=self.provider)
            assert done.status_code == 200, done.text
            data = done.json()["data"]
            assert data["status"] == "connected" and data["provider"] == self.provider
            granted = {p for s in info["scopes"] if s["name"] in info["defaultScopes"] for p in s["permissions"]}
            assert set(data["permissions"]) == granted
            replay = finish_connect(api, back["code"], back["state"], provider=self.provider)
            assert replay.status_code == 400 and len(api.get("/api/integrations").json()["data"]) == 1
            # Nothing the provider issued is ever shown.
            issued = sandbox.get("/_control/tokens").json()["everIssued"]
            shown = api.get(f"/api/integrations/{data['integrationId']}").text + done.text
            assert not [t for t in issued if t in shown]

    def test_consent_denied_stores_nothing(self, hub: Any) -> None:
        self._skip("oauth")
        self._needs(hub, "oauth")
        with hub.client("manager") as api:
            start = begin_connect(api, provider=self.provider, **self.connect_body)
            back = follow_consent(start["authUrl"], sandbox_consent="deny")
            assert back.get("error") == "access_denied" and back.get("state") == start["state"]
            assert api.get("/api/integrations").json()["data"] == []

    # -- refresh -----------------------------------------------------------------------
    def test_invalid_grant_on_refresh_is_invalid_credentials(self, hub: Any) -> None:
        self._skip("refresh")
        self._needs(hub, "refresh")
        with hub.client("manager") as api, hub.sandbox(self.provider) as sandbox:
            sandbox.post("/_control/config", json={"accessTokenTtl": ALWAYS_DUE})
            integration_id = self.connected(api)
            sandbox.post("/_control/revoke-all")  # the user removed the app at the provider
            sandbox.post("/_control/expire-access-tokens")
            data = run_connection_test(api, integration_id)
            counters = sandbox.get("/_control/stats").json()["counters"]
            row = integration(api, integration_id)
        assert counters.get("token.refresh_token", 0) >= 1, "the hub never asked to refresh"
        assert data["connectionStatus"] == "unhealthy" and data["lastError"]["code"] == "INVALID_CREDENTIALS"
        assert row["status"] == "error" and row["lastError"]["code"] == "INVALID_CREDENTIALS"

    def test_a_rotated_refresh_token_is_kept(self, hub: Any) -> None:
        self._skip("rotation")
        self._needs(hub, "refresh")
        with hub.client("manager") as api, hub.sandbox(self.provider) as sandbox:
            sandbox.post("/_control/config", json={"accessTokenTtl": ALWAYS_DUE, "rotateRefreshTokens": True})
            integration_id = self.connected(api)
            before = sandbox.get("/_control/stats").json()["counters"].get("token.refresh_token", 0)
            # The sandbox kills a refresh token once used: the second refresh works only
            # if the hub stored the one the first refresh handed back.
            first = run_connection_test(api, integration_id)
            second = run_connection_test(api, integration_id)
            stats = sandbox.get("/_control/stats").json()
        assert first["connectionStatus"] == second["connectionStatus"] == "healthy", second
        assert stats["counters"]["token.refresh_token"] - before == 2
        assert stats["liveRefreshTokens"] == 1

    # -- test_connection ---------------------------------------------------------------
    def test_connection_test_answers_the_documented_shape(self, hub: Any) -> None:
        self._skip("test_connection")
        info = self.info(hub)
        with hub.client("manager") as api:
            integration_id = self.connected(api)
            data = run_connection_test(api, integration_id)
        assert set(data) == (SYNCING_TEST_SHAPE if "sync" in info["hooks"] else TEST_SHAPE)
        assert data["connectionStatus"] == "healthy" and data["lastError"] is None, data
        assert data["responseTime"].endswith("ms")
        declared = {p for s in info["scopes"] for p in s["permissions"]}
        assert set(data["permissions"]) <= declared and all(isinstance(v, bool) for v in data["permissions"].values())
        assert isinstance(data["recommendations"], list) and all(isinstance(r, str) for r in data["recommendations"])
        assert data["apiLimits"] is None or isinstance(data["apiLimits"], dict)


class NotifierConformance:
    """What a notifying plugin (``notify`` + ``deliver``) must honour: a notification
    broadcast twice (the same ``id``, as after a crash) is sent once and recorded as
    delivered in the integration's message log; a refusal by the provider is recorded
    as a failed message and as the integration's ``lastError``.

    ``notification``: a kind and data the plugin delivers with the ``connect_body``
    settings; ``send_path``: the sandbox path its ``deliver`` calls, where ``refuse``
    injects ``refusal`` (a status no retry changes); ``sent(hub)``: how many messages the
    provider received. A plugin with no OAuth or no sandbox overrides ``connect`` and
    ``refuse``."""

    provider: ClassVar[str] = ""
    connect_body: ClassVar[dict[str, Any]] = {}
    notification: ClassVar[tuple[str, dict[str, Any]]] = ("eventReminder", {})
    send_path: ClassVar[str] = ""
    refusal: ClassVar[int] = 400  # a status the provider answers that no retry will change

    def sent(self, hub: Any) -> int:
        """How many messages the provider's sandbox has received: the plugin's subclass reads
        its sandbox's control routes."""
        raise NotImplementedError

    def messages(self, api: httpx.Client, integration_id: str) -> list[dict[str, Any]]:
        """The integration's messages log (``GET /api/integrations/{id}/webhooks/messages``)."""
        response = api.get(f"/api/integrations/{integration_id}/webhooks/messages")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def connect(self, hub: Any, api: httpx.Client) -> str:
        """Connect an integration that delivers ``notification``: its id."""
        return connect(api, self.provider, **self.connect_body)["integrationId"]

    def refuse(self, hub: Any) -> None:
        """Make the provider refuse every message from now on."""
        with hub.sandbox(self.provider) as sandbox:
            sandbox.post("/_control/faults", json={"path": self.send_path, "status": self.refusal, "count": 20})

    def _settled(self, api: httpx.Client, integration_id: str, status: str) -> list[dict[str, Any]]:
        return wait_until(lambda: (m := self.messages(api, integration_id)) and m[0]["status"] == status and m)

    def test_a_notification_is_delivered_once_and_recorded(self, hub: Any) -> None:
        with hub.client("manager") as api:
            integration_id = self.connect(hub, api)
            kind, data = self.notification
            notify(hub, kind, data, id="conformance-1")
            notify(hub, kind, data, id="conformance-1")  # the same notification again
            self._settled(api, integration_id, "delivered")
            hub.run(hub.services.tasks.drain())  # the second broadcast too has been handled
            messages = self.messages(api, integration_id)
        assert len(messages) == 1 and messages[0]["attempts"] == 1, messages
        assert messages[0]["kind"] == kind
        assert self.sent(hub) == 1

    def test_a_refusal_is_reported(self, hub: Any) -> None:
        with hub.client("manager") as api:
            integration_id = self.connect(hub, api)
            self.refuse(hub)
            kind, data = self.notification
            notify(hub, kind, data, id="conformance-2")
            message = self._settled(api, integration_id, "failed")[0]
            row = integration(api, integration_id)
        assert message["lastError"] and message.get("lastStatus") == self.refusal, message
        assert row["lastError"] is not None, row
        assert self.sent(hub) == 0
