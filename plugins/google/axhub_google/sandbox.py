"""Google's OAuth 2.0 and Calendar API v3, as far as axhub uses them, in memory.

Shapes follow Google's documentation and ``google-calendar-v3.discovery.json``: form
token requests (``client_secret_post`` or Basic), ``{"error", "error_description"}``
token errors, the Calendar API's ``{"error": {"code", "message", "errors", "status"}}``.
Test client: ``axhub-sandbox-google`` / ``sandbox-secret-google``.

The Calendar part (``calendars.get``, ``events.*``, the batch endpoint and their
``/_control`` routes) lives in ``sandbox_calendar`` and its siblings; see
``sandbox_routes`` for the control routes.
"""

from __future__ import annotations

from litestar import Request, Response, get, post

from axhub.sandbox import Fault, OAuthServer, TokenError, build_app, client_credentials, form_of, redirect

from . import INFO
from .sandbox_calls import CalendarApi
from .sandbox_chaos import call_faults
from .sandbox_errors import error_body
from .sandbox_routes import api_routes, control_routes

CLIENT = INFO.sandbox_client  # declared once, in ProviderInfo: the hub's side uses the same


def api_error(status: int, message: str, reason: str | None = None, headers: dict | None = None) -> Response:
    return Response(error_body(status, message, reason), status_code=status, headers=headers or {})


def token_error(exc: TokenError) -> Response:
    return Response({"error": exc.error, "error_description": exc.description}, status_code=exc.status)


def create_app():
    server = OAuthServer(client_id=CLIENT[0], client_secret=CLIENT[1], prefix="ya29.sbx")
    faults = call_faults()
    api = CalendarApi(server, faults)

    def render_fault(fault: Fault) -> Response:
        if fault.path.startswith("/token"):
            return Response({"error": "internal_failure", "error_description": "Backend Error"}, status_code=fault.status)
        return api_error(fault.status, "Injected fault")

    @get("/o/oauth2/v2/auth")
    async def authorize(request: Request) -> Response:
        api.counters["http.authorize"] += 1
        try:
            return redirect(server.authorize(dict(request.query_params)))
        except TokenError as exc:
            # Google shows an error page to the user instead of redirecting.
            return Response(f"Error 400: {exc.error}\n{exc.description}", status_code=400, media_type="text/plain")

    @post("/token")
    async def token(request: Request) -> Response:
        api.counters["http.token"] += 1
        form = await form_of(request)
        try:
            server.check_client(*client_credentials(request, form)[:2])
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                issued = server.exchange(form.get("code"), form.get("redirect_uri"), form.get("code_verifier"))
                include_refresh = True
            elif grant_type == "refresh_token":
                issued = server.refresh(form.get("refresh_token"))
                include_refresh = False  # Google keeps the refresh token; it does not rotate it
            else:
                raise TokenError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        except TokenError as exc:
            return token_error(exc)
        body = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
            "token_type": "Bearer",
        }
        if include_refresh and issued.refresh_token:
            body["refresh_token"] = issued.refresh_token
        return Response(body, status_code=200)

    @post("/revoke")
    async def revoke(request: Request) -> Response:
        api.counters["http.revoke"] += 1
        form = await form_of(request)
        token = form.get("token") or request.query_params.get("token")
        if not server.revoke(token):
            return Response({"error": "invalid_token", "error_description": "Token expired or revoked"}, status_code=400)
        return Response({}, status_code=200)

    @get("/v1/userinfo")
    async def userinfo(request: Request) -> Response:
        api.counters["http.userinfo"] += 1
        issued = server.bearer(request.headers.get("authorization"))
        if issued is None:
            return Response({"error": "invalid_request", "error_description": "Invalid Credentials"}, status_code=401)
        u = issued.user
        return Response({"sub": u.id, "name": u.name, "given_name": u.given_name, "family_name": u.family_name,
                         "picture": u.avatar, "email": u.email, "email_verified": True, "locale": "fr"})

    def stats() -> dict:
        # One "counters" map: the OAuth server's and the Calendar API's (events.list, batch, …).
        return {"counters": {**server.counters, **api.counters},
                "calendar": {"events": len(api.calendar.events),
                             "cancelled": sum(1 for s in api.calendar.events.values() if s.event["status"] == "cancelled"),
                             "chaos": api.chaos.describe(), "rateLimit": api.limiter.per_second,
                             "shortPages": api.calendar.short_pages}}

    routes = [authorize, token, revoke, userinfo, *api_routes(api), *control_routes(api)]
    return build_app(routes, server=server, faults=faults, render_fault=render_fault, extra_stats=stats, on_reset=api.reset,
                     persist={"calendar": lambda: api.calendar, "push": lambda: api.push})
