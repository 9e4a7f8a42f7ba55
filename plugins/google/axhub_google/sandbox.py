"""Google's OAuth 2.0 and Calendar API v3, as far as axhub uses them, in memory.

Shapes follow Google's documentation and ``google-calendar-v3.discovery.json``: form
token requests (``client_secret_post`` or Basic), ``{"error", "error_description"}``
token errors, the Calendar API's ``{"error": {"code", "message", "errors", "status"}}``.
Test client: ``axhub-sandbox-google`` / ``sandbox-secret-google``.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from axhub.sandbox import Fault, OAuthServer, TokenError, build_app, client_credentials, form_of, redirect

CLIENT = ("axhub-sandbox-google", "sandbox-secret-google")

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 410: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_REASON = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 409: "duplicate",
           410: "fullSyncRequired", 429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}


def api_error(status: int, message: str, reason: str | None = None, headers: dict | None = None) -> Response:
    reason = reason or _REASON.get(status, "backendError")
    return Response(
        {"error": {"code": status, "message": message,
                   "errors": [{"message": message, "domain": "global", "reason": reason}],
                   "status": _STATUS.get(status, "UNKNOWN")}},
        status_code=status,
        headers=headers or {},
    )


def token_error(exc: TokenError) -> Response:
    return Response({"error": exc.error, "error_description": exc.description}, status_code=exc.status)


def create_app():
    server = OAuthServer(client_id=CLIENT[0], client_secret=CLIENT[1], prefix="ya29.sbx")

    def render_fault(fault: Fault) -> Response:
        if fault.path.startswith("/token"):
            return Response({"error": "internal_failure", "error_description": "Backend Error"}, status_code=fault.status)
        return api_error(fault.status, "Injected fault")

    @get("/o/oauth2/v2/auth")
    async def authorize(request: Request) -> Response:
        try:
            return redirect(server.authorize(dict(request.query_params)))
        except TokenError as exc:
            # Google shows an error page to the user instead of redirecting.
            return Response(f"Error 400: {exc.error}\n{exc.description}", status_code=400, media_type="text/plain")

    @post("/token")
    async def token(request: Request) -> Response:
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
        form = await form_of(request)
        token = form.get("token") or request.query_params.get("token")
        if not server.revoke(token):
            return Response({"error": "invalid_token", "error_description": "Token expired or revoked"}, status_code=400)
        return Response({}, status_code=200)

    @get("/v1/userinfo")
    async def userinfo(request: Request) -> Response:
        issued = server.bearer(request.headers.get("authorization"))
        if issued is None:
            return Response({"error": "invalid_request", "error_description": "Invalid Credentials"}, status_code=401)
        u = issued.user
        return Response({"sub": u.id, "name": u.name, "given_name": u.given_name, "family_name": u.family_name,
                         "picture": u.avatar, "email": u.email, "email_verified": True, "locale": "fr"})

    @get("/calendar/v3/calendars/{calendar_id:str}")
    async def calendar(request: Request, calendar_id: FromPath[str]) -> Response:
        issued = server.bearer(request.headers.get("authorization"))
        if issued is None:
            return api_error(401, "Request had invalid authentication credentials.", "authError")
        if calendar_id not in ("primary", issued.user.email):
            return api_error(404, "Not Found", "notFound")
        return Response({"kind": "calendar#calendar", "etag": '"sbx-etag-1"', "id": issued.user.email,
                         "summary": issued.user.email, "timeZone": "Europe/Paris"})

    return build_app([authorize, token, revoke, userinfo, calendar], server=server, render_fault=render_fault)
