"""Zoom's OAuth server and the part of API v2 that axhub uses, in memory.

Shapes follow Zoom's OAuth guide and ``zoom-openapi-v2.json``:

- ``GET /oauth/authorize``: consent; scopes come from the Marketplace app's
  configuration, not from the request (Zoom's authorize URL carries none);
- ``POST /oauth/token``: client authentication by HTTP Basic only, parameters in the
  query string or the form body, refresh tokens rotated on every refresh (the old one
  is dead at once), errors as ``{"reason", "error"}``;
- ``POST /oauth/revoke``: ``token=`` → ``{"status": "success"}``;
- ``GET /v2/users/me``: the user object, Zoom's rate-limit headers on every answer,
  API errors as ``{"code", "message"}`` (124: invalid or expired access token, 4711:
  the token lacks a scope, 429: rate limited);
- meetings and participant reports: see ``sandbox_meetings``.

Test client: ``axhub-sandbox-zoom`` / ``sandbox-secret-zoom``. Beyond the shared
``/_control`` routes: ``POST /_control/app-scopes`` sets the scopes the sandbox's
Marketplace app is configured with, ``POST /_control/rate-limit`` sets the limit that
``/v2`` applies and reports (category, type ``QPS`` or ``Daily-limit``, limit, remaining);
``GET /_control/rate-limit`` reads it back with ``refused``, the requests answered 429 since.
Event notifications (the endpoint's validation, ``meeting.ended`` when a meeting is
played, and their controls): see ``sandbox_push``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody

from axhub.sandbox import Fault, OAuthServer, TokenError, build_app, client_credentials, form_of, redirect

from . import INFO
from .sandbox_meetings import Meetings, meeting_routes
from .sandbox_push import ACCOUNT_ID, ZoomPush

CLIENT = INFO.sandbox_client  # declared once, in ProviderInfo: the hub's side uses the same
# The classic scopes the sandbox's Marketplace app is configured with.
APP_SCOPES = ("meeting:read", "meeting:write", "report:read:admin", "user:read")
# Any of these lets a token read its own user (classic, classic admin, granular).
USER_READ_SCOPES = frozenset({"user:read", "user:read:admin", "user:read:user"})
API_URL = "https://api.zoom.us"
ACCESS_TTL = 3599  # what Zoom answers in expires_in

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = ("You have exceeded the daily rate limit ({limit}) of {category} API requests permitted "
                 "for this particular account. You may resume these requests at GMT 00:00:00.")


def api_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response({"code": code, "message": message}, status_code=status, headers=headers or {})


def oauth_error(error: str, reason: str, status: int = 400) -> Response:
    return Response({"reason": reason, "error": error}, status_code=status)


def _reason(exc: TokenError, params: dict[str, str]) -> str:
    """Zoom's wording for what the shared OAuth server refused."""
    description = exc.description
    if "authorization code" in description:
        return f"Invalid authorization code {params.get('code', '')}".rstrip()
    if "redirect_uri" in description:
        return "Invalid redirect uri."
    if "code_verifier" in description:
        return "Invalid code_verifier."
    if "refresh token" in description:
        return "Invalid Token!"
    if exc.error == "invalid_client":
        return "Invalid client_id or client_secret"
    return description


class RateLimit:
    """The limit ``/v2`` applies: QPS (a one-second window) or a daily quota (UTC day)."""

    def __init__(self) -> None:
        self.configure({})

    def configure(self, data: dict[str, Any]) -> None:
        self.category = str(data.get("category", "Light"))
        self.type = str(data.get("type", "QPS"))
        self.limit = int(data.get("limit", 30))  # Light APIs, Pro plan: 30 requests a second
        self.remaining = int(data.get("remaining", self.limit))
        self.window = int(time.time())
        self.refused = 0  # requests answered 429 since: what a test counts

    def take(self) -> bool:
        """Count one request; False when the limit is spent."""
        if self.type == "QPS" and int(time.time()) != self.window:
            self.window, self.remaining = int(time.time()), self.limit
        if self.remaining <= 0:
            self.refused += 1
            return False
        self.remaining -= 1
        return True

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Category": self.category, "X-RateLimit-Type": self.type,
                "X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}

    def refusal(self) -> Response:
        headers = self.headers()
        if self.type.lower().startswith("daily"):
            # Daily quotas reset at 00:00 UTC; Zoom says when as a timestamp.
            tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
            midnight = tomorrow.replace(hour=0, minute=0, second=0, microsecond=0)
            headers["Retry-After"] = midnight.strftime("%Y-%m-%dT%H:%M:%SZ")
            return api_error(429, 429, DAILY_MESSAGE.format(limit=self.limit, category=self.category), headers)
        return api_error(429, 429, QPS_MESSAGE, headers)


def create_app():
    server = OAuthServer(client_id=CLIENT[0], client_secret=CLIENT[1], prefix="zoom.sbx",
                         access_ttl=ACCESS_TTL, rotate_refresh=True)
    app_scopes: list[str] = list(APP_SCOPES)
    limit = RateLimit()
    meetings = Meetings()
    push = ZoomPush()

    def on_reset() -> None:
        app_scopes[:] = APP_SCOPES
        limit.configure({})
        meetings.reset()
        push.reset()

    def guard(request: Request, scopes: frozenset[str] | set[str]):
        """Every ``/v2`` call: the rate limit, then the bearer token and its scopes.
        An error ``Response``, or the token and the rate-limit headers to answer with."""
        if not limit.take():
            return limit.refusal()
        headers = limit.headers()
        authorization = request.headers.get("authorization")
        issued = server.bearer(authorization)
        if issued is None:
            token = (authorization or "").partition(" ")[2].strip()
            known = server.access.get(token)
            message = "Access token is expired." if known is not None else "Invalid access token."
            return api_error(401, 124, message, headers)
        if not set(scopes) & set(issued.scopes):
            missing = ", ".join(sorted(scopes))
            return api_error(400, 4711, f"Invalid access token, does not contain scopes:[{missing}].", headers)
        return issued, headers

    def render_fault(fault: Fault) -> Response:
        if fault.path.startswith("/oauth"):
            return oauth_error("server_error", "Internal Error", fault.status)
        if fault.status == 429:
            headers = {"X-RateLimit-Category": limit.category, "X-RateLimit-Type": "QPS"}
            return api_error(429, 429, QPS_MESSAGE, headers)
        if fault.status == 401:
            return api_error(401, 124, "Invalid access token.")
        return api_error(fault.status, fault.status, "Injected fault")

    @get("/oauth/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        # The grant covers what the Marketplace app is configured for, whatever is asked.
        params["scope"] = " ".join(app_scopes)
        try:
            return redirect(server.authorize(params))
        except TokenError as exc:
            # Zoom shows an error page instead of redirecting to an unverified client.
            return Response(f"{exc.error}: {_reason(exc, params)}", status_code=400, media_type="text/plain")

    @post("/oauth/token")
    async def token(request: Request) -> Response:
        # Zoom's guide passes the parameters in the query string; the form body works too.
        params = {**dict(request.query_params), **await form_of(request)}
        cid, secret, how = client_credentials(request, params)
        try:
            if how != "basic":
                raise TokenError("invalid_client", "client authentication failed", status=401)
            server.check_client(cid, secret)
            grant_type = params.get("grant_type")
            if grant_type == "authorization_code":
                issued = server.exchange(
                    params.get("code"), params.get("redirect_uri"), params.get("code_verifier"))
            elif grant_type == "refresh_token":
                issued = server.refresh(params.get("refresh_token"))
            else:
                raise TokenError("unsupported_grant_type", "Unsupported grant type")
        except TokenError as exc:
            # Zoom answers a dead refresh token with invalid_request, not invalid_grant.
            error = "invalid_request" if "refresh token" in exc.description else exc.error
            return oauth_error(error, _reason(exc, params), exc.status)
        return Response({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
            "api_url": API_URL,
        }, status_code=200)

    @post("/oauth/revoke")
    async def revoke(request: Request) -> Response:
        params = {**dict(request.query_params), **await form_of(request)}
        cid, secret, how = client_credentials(request, params)
        try:
            if how != "basic":
                raise TokenError("invalid_client", "client authentication failed", status=401)
            server.check_client(cid, secret)
        except TokenError as exc:
            return oauth_error(exc.error, _reason(exc, params), exc.status)
        if not server.revoke(params.get("token")):
            return oauth_error("invalid_request", "Invalid Token!")
        return Response({"status": "success"}, status_code=200)

    @get("/v2/users/me")
    async def me(request: Request) -> Response:
        checked = guard(request, USER_READ_SCOPES)
        if isinstance(checked, Response):
            return checked
        issued, headers = checked
        u = issued.user
        return Response({
            "id": u.id,
            "first_name": u.given_name,
            "last_name": u.family_name,
            "display_name": u.name,
            "email": u.email,
            "type": 2,
            "role_name": "Owner",
            "pmi": 3542471135,
            "use_pmi": False,
            "personal_meeting_url": "https://zoom.us/j/3542471135",
            "timezone": "Europe/Paris",
            "verified": 1,
            "dept": "",
            "created_at": "2023-01-09T08:00:00Z",
            "last_login_time": "2024-03-15T07:58:03Z",
            "pic_url": u.avatar,
            "language": "fr-FR",
            "account_id": ACCOUNT_ID,
            "status": "active",
            "role_id": "0",
            "login_types": [100],
            "cluster": "us05",
        }, headers=headers)

    @post("/_control/app-scopes", status_code=200, sync_to_thread=False)
    def set_app_scopes(data: JSONBody[list[str]]) -> dict[str, Any]:
        app_scopes[:] = data
        return {"scopes": app_scopes}

    def limit_state() -> dict[str, Any]:
        return {"category": limit.category, "type": limit.type, "limit": limit.limit, "remaining": limit.remaining,
                "refused": limit.refused}

    @post("/_control/rate-limit", status_code=200, sync_to_thread=False)
    def set_rate_limit(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        limit.configure(data)
        return limit_state()

    @get("/_control/rate-limit", sync_to_thread=False)
    def get_rate_limit() -> dict[str, Any]:
        return limit_state()

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

    return build_app([authorize, token, revoke, me, set_app_scopes, set_rate_limit, get_rate_limit, push_view,
                      push_configure, *meeting_routes(meetings, guard, api_error, push.meeting_ended)], server=server,
                     render_fault=render_fault, on_reset=on_reset,
                     persist={"scopes": lambda: app_scopes, "meetings": lambda: meetings, "push": lambda: push})
