"""Slack's OAuth v2 and the Web API methods axhub uses, in memory.

Shapes follow Slack's docs and ``slack-web-openapi-v2.json``: the consent page at
``/oauth/v2/authorize`` (comma-separated ``scope``), ``/api/oauth.v2.access`` (form post,
client id/secret as HTTP Basic or form fields), and ``auth.test``, ``auth.revoke``,
``users.info`` — and the workspace's channels, members and messages
(:mod:`axhub_slack.sandbox_workspace`). Like Slack, every failure but throttling is HTTP 200 with
``{"ok": false, "error": …}``; throttling is HTTP 429, ``Retry-After`` and
``{"ok": false, "error": "ratelimited"}`` (inject it with ``POST /_control/faults``).

Token rotation is on by default (12-hour ``xoxe.xoxb-`` access tokens and refresh
tokens, rotated on each refresh); ``POST /_control/config {"rotateRefreshTokens": false}``
makes the sandbox answer like an app without it: long-lived ``xoxb-`` tokens, no
``expires_in``, no ``refresh_token``. ``user_scope`` is accepted and ignored.
Test client: ``axhub-sandbox-slack`` / ``sandbox-secret-slack``. The Events API
(the Request URL's verification, ``tokens_revoked`` and ``app_uninstalled`` on
``POST /_control/uninstall`` or ``/_control/tokens-revoked``): see ``sandbox_push``.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, post, route
from litestar.params import JSONBody

from axhub.sandbox import (
    TEST_USER,
    Fault,
    Issued,
    OAuthServer,
    TokenError,
    build_app,
    client_credentials,
    form_of,
    redirect,
)

from . import INFO
from .sandbox_push import SlackPush
from .sandbox_workspace import Workspace
from .sandbox_workspace import routes as workspace_routes

CLIENT = INFO.sandbox_client  # declared once, in ProviderInfo: the hub's side uses the same
TEAM = {"id": "T0SANDBOX01", "name": "Attendance-X Sandbox"}
APP_ID = "A0SANDBOX01"
BOT_USER_ID = "U0SBXBOT001"
BOT_ID = "B0SBXBOT001"
BOT_NAME = "attendance-x"
# The sandbox's test user, with a Slack-shaped member id.
USER = dataclasses.replace(TEST_USER, id="U0SANDBOX01")
ACCESS_TTL = 43200  # Slack's rotating access tokens live 12 hours
WEBHOOK_CHANNEL = ("#general", "C0SBXGENRL1")
DENIED = "The user has denied access to the scope(s) requested by the client application."

# Scopes the consent page accepts; Slack refuses to show consent for unknown ones.
KNOWN_SCOPES = frozenset({
    "chat:write", "chat:write.public", "chat:write.customize", "channels:read", "channels:join",
    "channels:history", "groups:read", "im:write", "users:read", "users:read.email",
    "incoming-webhook", "team:read", "commands",
})

# Slack's error name for an injected fault's status.
_FAULT_ERROR = {200: "fatal_error", 400: "invalid_arguments", 404: "unknown_method", 429: "ratelimited",
                500: "internal_error", 503: "service_unavailable"}


def slack_error(error: str, status: int = 200, headers: dict[str, str] | None = None, **more: Any) -> Response:
    return Response({"ok": False, "error": error, **more}, status_code=status, headers=headers or {})


def _page(message: str) -> Response:
    # Slack shows the installer an error page; it does not redirect back.
    return Response(message, status_code=400, media_type="text/plain")


def create_app():
    server = OAuthServer(client_id=CLIENT[0], client_secret=CLIENT[1], prefix="xoxe.xoxb-1-sbx",
                         access_ttl=ACCESS_TTL, rotate_refresh=True, scope_separator=",", user=USER)
    revoked: set[str] = set()
    webhooks: dict[str, str] = {}  # url -> channel
    workspace = Workspace()
    workspace.reset()
    push = SlackPush()

    def on_reset() -> None:
        revoked.clear()
        webhooks.clear()
        workspace.reset()
        push.reset()
        server.access_ttl, server.rotate_refresh = ACCESS_TTL, True

    def render_fault(fault: Fault) -> Response:
        error = _FAULT_ERROR.get(fault.status, "fatal_error")
        headers = {"Retry-After": "30"} if fault.status == 429 else {}
        return slack_error(error, fault.status, headers)

    async def params_of(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await form_of(request))
        return params

    def caller(request: Request, params: dict[str, str]) -> tuple[Issued | None, str | None]:
        """The grant behind the call's token (Bearer header or ``token`` argument)."""
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("token")
        if not token:
            return None, "not_authed"
        if token in revoked:
            return None, "token_revoked"
        issued = server.access.get(token)
        if issued is None:
            return None, "invalid_auth"
        if issued.expires_at < time.time():
            return None, "token_expired"
        return issued, None

    def ok(issued: Issued, body: dict[str, Any], accepted: str = "") -> Response:
        # Slack tells every caller which scopes its token has, and which the method takes.
        headers = {"x-oauth-scopes": ",".join(issued.scopes), "x-accepted-oauth-scopes": accepted}
        return Response({"ok": True, **body}, status_code=200, headers=headers)

    def grant_body(issued: Issued, *, install: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": True, "app_id": APP_ID, "access_token": issued.access_token, "token_type": "bot",
            "scope": ",".join(issued.scopes), "bot_user_id": BOT_USER_ID, "team": dict(TEAM),
            "enterprise": None, "is_enterprise_install": False,
        }
        if install:
            body["authed_user"] = {"id": USER.id}
            if "incoming-webhook" in issued.scopes:
                hook_id = f"B0SBXHK{len(webhooks) + 1:04d}"
                url = f"https://hooks.slack.com/services/{TEAM['id']}/{hook_id}/{secrets.token_hex(12)}"
                webhooks[url] = WEBHOOK_CHANNEL[0]
                body["incoming_webhook"] = {
                    "channel": WEBHOOK_CHANNEL[0], "channel_id": WEBHOOK_CHANNEL[1],
                    "configuration_url": f"https://axhub-sandbox.slack.com/services/{hook_id}", "url": url,
                }
        if server.rotate_refresh:
            body["expires_in"] = issued.expires_in
            body["refresh_token"] = issued.refresh_token
        else:
            issued.expires_at = math.inf  # without rotation a bot token lives until revoked
        return body

    @get("/oauth/v2/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        requested = [s for s in (params.get("scope") or "").split(",") if s]
        requested += [s for s in (params.get("user_scope") or "").split(",") if s]
        if not requested:
            return _page("Slack: missing scope — ask for at least one scope or user_scope")
        unknown = [s for s in requested if s not in KNOWN_SCOPES]
        if unknown:
            return _page(f"Slack: invalid permissions requested ({', '.join(unknown)})")
        # Slack does not need response_type; the shared server does.
        params.setdefault("response_type", "code")
        params["scope"] = params.get("scope") or ""
        try:
            location = server.authorize(params)
        except TokenError as exc:
            return _page(f"Slack: {exc.error} — {exc.description}")
        # Slack's own wording on denial (the shared server has its own).
        parts = urlsplit(location)
        query = [(k, DENIED if k == "error_description" else v) for k, v in parse_qsl(parts.query)]
        return redirect(urlunsplit(parts._replace(query=urlencode(query))))

    @route("/api/oauth.v2.access", http_method=["GET", "POST"])
    async def token(request: Request) -> Response:
        params = await params_of(request)
        client_id, client_secret, _ = client_credentials(request, params)
        if client_id != CLIENT[0]:
            return slack_error("invalid_client_id")
        if not secrets.compare_digest(client_secret or "", CLIENT[1]):
            return slack_error("bad_client_secret")
        grant_type = params.get("grant_type") or "authorization_code"
        server.prefix = "xoxe.xoxb-1-sbx" if server.rotate_refresh else "xoxb-sbx"
        if grant_type == "authorization_code":
            code = params.get("code")
            pending = server.codes.get(code or "")
            # redirect_uri is optional here, but must match when it is sent.
            redirect_uri = params.get("redirect_uri") or (pending.redirect_uri if pending else None)
            try:
                issued = server.exchange(code, redirect_uri, params.get("code_verifier"))
            except TokenError:
                mismatch = pending is not None and redirect_uri != pending.redirect_uri
                return slack_error("bad_redirect_uri" if mismatch else "invalid_code")
            return Response(grant_body(issued, install=True), status_code=200)
        if grant_type == "refresh_token":
            try:
                issued = server.refresh(params.get("refresh_token"))
            except TokenError:
                return slack_error("invalid_refresh_token")
            return Response(grant_body(issued, install=False), status_code=200)
        return slack_error("invalid_grant_type")

    @route("/api/auth.test", http_method=["GET", "POST"])
    async def auth_test(request: Request) -> Response:
        server.counters["api.auth.test"] += 1
        issued, error = caller(request, await params_of(request))
        if issued is None:
            return slack_error(error or "invalid_auth")
        body = {
            "url": "https://axhub-sandbox.slack.com/", "team": TEAM["name"], "user": BOT_NAME,
            "team_id": TEAM["id"], "user_id": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID,
            "is_enterprise_install": False,
        }
        if issued.expires_at != math.inf:  # a rotating token says how long it has left
            body["expires_in"] = max(0, int(issued.expires_at - time.time()))
        return ok(issued, body)

    @route("/api/auth.revoke", http_method=["GET", "POST"])
    async def auth_revoke(request: Request) -> Response:
        params = await params_of(request)
        issued, error = caller(request, params)
        if issued is None:
            return slack_error(error or "invalid_auth")
        if params.get("test") in ("1", "true"):  # Slack's testing mode: nothing is revoked
            return ok(issued, {"revoked": False})
        server.revoke(issued.access_token)
        revoked.add(issued.access_token)
        return ok(issued, {"revoked": True})

    @route("/api/users.info", http_method=["GET", "POST"])
    async def users_info(request: Request) -> Response:
        server.counters["api.users.info"] += 1
        params = await params_of(request)
        issued, error = caller(request, params)
        if issued is None:
            return slack_error(error or "invalid_auth")
        if "users:read" not in issued.scopes:
            return slack_error("missing_scope", needed="users:read", provided=",".join(issued.scopes))
        member = params.get("user")
        if member == USER.id:
            user = _member(USER.id, "marie.dubois", USER.name, USER.given_name, USER.family_name,
                           USER.email if "users:read.email" in issued.scopes else None, bot=False)
        elif member == BOT_USER_ID:
            user = _member(BOT_USER_ID, BOT_NAME, "Attendance-X", "", "", None, bot=True)
        else:
            return slack_error("user_not_found")
        return ok(issued, {"user": user}, accepted="users:read")

    def revoke_everything() -> None:
        # Every token of the app in the workspace dies, as when an admin removes it.
        revoked.update(server.access)
        server.revoke_all()

    @get("/_control/push")
    async def push_view() -> dict[str, Any]:
        await push.settle()  # what was sent is known once it is answered
        return push.describe()

    @post("/_control/push", status_code=200)
    async def push_configure(data: JSONBody[dict[str, Any]]) -> Response:
        try:
            return Response(push.configure(data))
        except (ValueError, TypeError) as exc:
            return Response({"error": str(exc)}, status_code=400)

    @post("/_control/uninstall", status_code=200, sync_to_thread=False)
    def uninstall() -> dict[str, Any]:
        """An admin removed the app: its tokens die, then Slack sends tokens_revoked and
        app_uninstalled (in no promised order; here, that one)."""
        revoke_everything()
        push.event(TEAM["id"], APP_ID, {"type": "tokens_revoked", "tokens": {"oauth": [USER.id], "bot": [BOT_USER_ID]}})
        push.event(TEAM["id"], APP_ID, {"type": "app_uninstalled"})
        return {"uninstalled": True}

    @post("/_control/tokens-revoked", status_code=200, sync_to_thread=False)
    def tokens_revoked() -> dict[str, Any]:
        revoke_everything()
        push.event(TEAM["id"], APP_ID, {"type": "tokens_revoked", "tokens": {"oauth": [USER.id], "bot": [BOT_USER_ID]}})
        return {"revoked": True}

    return build_app(
        [authorize, token, auth_test, auth_revoke, users_info, push_view, push_configure, uninstall, tokens_revoked,
         *workspace_routes(workspace, caller, ok, slack_error, params_of, webhooks,
                           lambda name: server.counters.update((name,)))],
        server=server,
        render_fault=render_fault,
        extra_stats=lambda: {"revokedTokens": len(revoked), "incomingWebhooks": len(webhooks),
                             "tokenRotation": server.rotate_refresh, "messages": len(workspace.messages)},
        on_reset=on_reset,
        persist={"revoked": lambda: revoked, "webhooks": lambda: webhooks, "workspace": lambda: workspace,
                 "push": lambda: push},
    )


def _member(user_id: str, handle: str, real_name: str, first: str, last: str, email: str | None,
            *, bot: bool) -> dict[str, Any]:
    """A member as users.info describes it (``objs_user``); ``email`` only with users:read.email."""
    avatar = "https://sandbox.axhub.invalid/avatars/marie" if not bot else "https://sandbox.axhub.invalid/avatars/bot"
    profile: dict[str, Any] = {
        "title": "", "phone": "", "skype": "", "real_name": real_name, "real_name_normalized": real_name,
        "display_name": handle, "display_name_normalized": handle, "fields": None, "status_text": "",
        "status_emoji": "", "status_expiration": 0, "avatar_hash": "g0sandbox000",
        "first_name": first, "last_name": last, "team": TEAM["id"],
        **{f"image_{n}": f"{avatar}_{n}.png" for n in (24, 32, 48, 72, 192, 512)},
    }
    if email is not None:
        profile["email"] = email
    if bot:
        profile.update(bot_id=BOT_ID, always_active=True, api_app_id=APP_ID)
    return {
        "id": user_id, "team_id": TEAM["id"], "name": handle, "deleted": False, "color": "9f69e7",
        "real_name": real_name, "tz": "Europe/Paris", "tz_label": "Central European Time", "tz_offset": 3600,
        "profile": profile, "is_admin": not bot, "is_owner": False, "is_primary_owner": False,
        "is_restricted": False, "is_ultra_restricted": False, "is_bot": bot, "is_app_user": False,
        "updated": int(time.time()), "is_email_confirmed": not bot,
    }
