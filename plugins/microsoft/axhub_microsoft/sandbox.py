"""The Microsoft identity platform (v2.0) and Microsoft Graph v1.0, as far as axhub uses them,
in memory. Test client: ``axhub-sandbox-microsoft`` / ``sandbox-secret-microsoft``.

Shapes follow Microsoft's documentation and ``microsoft-graph-v1.0.csdl.xml``:

- ``/{tenant}/oauth2/v2.0/authorize`` and ``/token`` for ``common``, ``organizations``,
  ``consumers``, a directory id or a domain; form token requests (``client_secret_post`` or
  Basic); errors as ``{"error", "error_description": "AADSTSnnnnn: …\\r\\nTrace ID…",
  "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}``; a refresh token only
  with ``offline_access``, an ``id_token`` with ``openid``; refresh tokens rotate on every use.
  Consent denial redirects with ``error=access_denied&error_subcode=cancel``.
- Graph ``/v1.0/me``, ``/v1.0/me/calendar``, ``/v1.0/me/calendars/{id}`` with ``$select``;
  errors as ``{"error": {"code", "message", "innerError": {"date", "request-id",
  "client-request-id"}}}``; throttling as 429 with a fractional ``Retry-After``, and
  ``x-ms-throttle-limit-percentage`` once past 80% of the app's limit.

The Outlook calendar (events, ``calendarView/delta``, ``$batch``, master categories) is in
``sandbox_outlook`` (the data) and ``sandbox_event_rules`` (what an event body may hold),
Teams (online meetings, channel messages) in ``sandbox_teams``, ``sandbox_calls`` (one
pipeline for direct and batched calls: faults, token, throttling, scopes),
``sandbox_media`` (the OData media type, the errors injected statuses answer) and
``sandbox_routes`` (routes, ``/_control/outlook`` and ``/_control/teams``).

``POST /_control/graph`` sets what a test needs beyond the shared controls:
``{"scopeFormat": "qualified"|"short", "throttle": {"limit", "windowSeconds"}|null,
"onlineMeetingProviders": [...]}``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody

from axhub.sandbox import (
    TEST_USER,
    Fault,
    Faults,
    OAuthServer,
    TokenError,
    build_app,
    client_credentials,
    form_of,
    redirect,
)

from . import INFO
from .graph import GRAPH_RESOURCE, valid_tenant
from .sandbox_calls import GraphApi, Throttle, route_of
from .sandbox_media import GRAPH_FAULTS, ODATA_JSON
from .sandbox_outlook import Outlook
from .sandbox_push import Subscriptions
from .sandbox_routes import outlook_routes, push_routes, teams_routes
from .sandbox_teams import Teams

CLIENT = INFO.sandbox_client  # declared once, in ProviderInfo: the hub's side uses the same
TENANT_ID = "b2c7a3e1-5d4f-4c8a-9e61-3f0d7a2b9c14"  # the sandbox's directory
USER = dataclasses.replace(TEST_USER, id="4f6e1c2a-9b3d-4e8f-a7c5-1d2e3f4a5b6c")  # Graph ids are GUIDs
OIDC = ("openid", "profile", "email", "offline_access")
GRAPH_URL = "https://graph.microsoft.com/v1.0"
CALENDARS = {
    "AAMkAGI2TGuLAAA=": {"name": "Calendar", "isDefaultCalendar": True, "canEdit": True, "isRemovable": False},
    "AAMkAGI2TGuLBBB=": {"name": "Formations", "isDefaultCalendar": False, "canEdit": True, "isRemovable": True},
}
DEFAULT_CALENDAR = "AAMkAGI2TGuLAAA="


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _utc() -> datetime:
    return datetime.now(timezone.utc)


# -- sign-in (Entra ID) --------------------------------------------------------------------

def aad_error(error: str, code: int, text: str, status: int = 400, headers: dict | None = None) -> Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = _utc().strftime("%Y-%m-%d %H:%M:%SZ")
    return Response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status_code=status,
        headers=headers or {},
    )


def error_page(code: int, text: str) -> Response:
    # Entra ID shows the user an error page instead of redirecting to an untrusted app.
    return Response(f"<html><body><h1>Sign in</h1><p>AADSTS{code}: {text}</p></body></html>",
                    status_code=400, media_type="text/html")


NO_TENANT = "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
EXPIRED = ("The provided authorization code or refresh token has expired due to inactivity. "
           "Send a new interactive authorization request for this user and resource.")


def _graph_scope(scope: str) -> str:
    return scope[len(GRAPH_RESOURCE):] if scope.lower().startswith(GRAPH_RESOURCE) else scope


def id_token(scopes: tuple[str, ...], tenant_id: str) -> str:
    """An id_token with the v2.0 claims. The signature is not a real RS256 one: axhub reads
    who signed in from Graph /me, never from the id_token."""
    now = int(time.time())
    claims = {"aud": CLIENT[0], "iss": f"https://login.microsoftonline.com/{tenant_id}/v2.0", "iat": now, "nbf": now,
              "exp": now + 3600, "name": USER.name, "oid": USER.id, "preferred_username": USER.email,
              "sub": _b64(USER.id.encode())[:43], "tid": tenant_id, "ver": "2.0"}
    if "email" in scopes:
        claims["email"] = USER.email
    header = {"typ": "JWT", "alg": "RS256", "kid": "sandbox-key-1"}
    return ".".join(_b64(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)) + "." + _b64(uuid.uuid4().bytes * 8)


# -- Graph ---------------------------------------------------------------------------------

def graph_error(status: int, code: str, message: str, request: Request | None = None, headers: dict | None = None) -> Response:
    request_id = str(uuid.uuid4())
    client_request_id = (request.headers.get("client-request-id") if request else None) or request_id
    return Response(
        {"error": {"code": code, "message": message,
                   "innerError": {"date": _utc().strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
                                  "client-request-id": client_request_id}}},
        status_code=status,
        media_type=ODATA_JSON,
        headers={"request-id": request_id, "client-request-id": client_request_id, **(headers or {})},
    )


UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                                       'client_id="00000003-0000-0000-c000-000000000000"'}


def _select(entity: dict[str, Any], request: Request, context: str) -> dict[str, Any]:
    """OData ``$select``: only the named properties (and the context that says so)."""
    chosen = [f.strip() for f in (request.query_params.get("$select") or "").split(",") if f.strip()]
    if not chosen:
        return {"@odata.context": f"{GRAPH_URL}/$metadata#{context}/$entity", **entity}
    return {"@odata.context": f"{GRAPH_URL}/$metadata#{context}({','.join(chosen)})/$entity",
            **{k: v for k, v in entity.items() if k in chosen}}


@dataclasses.dataclass
class GraphState:
    scope_format: str = "qualified"  # the Entra protocol docs' form; Graph's tutorials show "short"
    online_meeting_providers: tuple[str, ...] = ("teamsForBusiness",)
    redeemed: set = dataclasses.field(default_factory=set)


def create_app():
    server = OAuthServer(client_id=CLIENT[0], client_secret=CLIENT[1], prefix="sbx-graph",
                         access_ttl=3599, rotate_refresh=True, user=USER)
    state = GraphState()
    faults = Faults(per_call=lambda path: route_of(path[len("/v1.0"):]))
    teams = Teams(TENANT_ID, USER.id, USER.name, USER.email)
    api = GraphApi(server, faults, Outlook(USER.name, USER.email, teams), CALENDARS, DEFAULT_CALENDAR, _graph_scope, teams)
    push = Subscriptions(CLIENT[0], USER.id, TENANT_ID, CALENDARS, DEFAULT_CALENDAR)
    api.outlook.on_change = push.changed

    def render_fault(fault: Fault) -> Response:
        if "/oauth2/v2.0/" in fault.path:
            if fault.status == 401:
                return aad_error("invalid_client", 7000215, "Invalid client secret provided.", 401)
            if fault.status == 429 or fault.status >= 500:
                return aad_error("temporarily_unavailable", 90033, "A transient error has occurred. Please try again.", fault.status)
            return aad_error("invalid_grant", 70008, EXPIRED, fault.status)
        code, message = GRAPH_FAULTS.get(fault.status, ("UnknownError", f"HTTP {fault.status}"))
        headers = {"Retry-After": "2.128"} if fault.status in (429, 503) else UNAUTHENTICATED if fault.status == 401 else {}
        return graph_error(fault.status, code, message, headers=headers)

    # -- sign-in ---------------------------------------------------------------------------

    @get("/{tenant:str}/oauth2/v2.0/authorize")
    async def authorize(request: Request, tenant: FromPath[str]) -> Response:
        if not valid_tenant(tenant):
            return error_page(90002, NO_TENANT.format(tenant))
        params = dict(request.query_params)
        if params.get("client_id") != CLIENT[0]:
            return error_page(700016, f"Application with identifier '{params.get('client_id')}' was not found in the directory '{tenant}'.")
        redirect_uri = params.get("redirect_uri") or ""
        if not params.get("scope") and urlsplit(redirect_uri).scheme in ("http", "https"):
            back = {"error": "invalid_request", "error_description": "AADSTS900144: The request body must contain the following parameter: 'scope'."}
            return redirect(_with_query(redirect_uri, {**back, **({"state": params["state"]} if "state" in params else {})}))
        try:
            url = server.authorize(params)
        except TokenError as exc:
            if exc.error == "invalid_request" and "redirect_uri" in exc.description:
                return error_page(50011, f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{CLIENT[0]}'.")
            return error_page(900144, exc.description)
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if query.get("error") == "access_denied":
            query.update(error_subcode="cancel", error_description="AADSTS65004: User declined to consent to access the app.")
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return redirect(url)

    @post("/{tenant:str}/oauth2/v2.0/token")
    async def token(request: Request, tenant: FromPath[str]) -> Response:
        form = await form_of(request)
        if not valid_tenant(tenant):
            return aad_error("invalid_request", 90002, NO_TENANT.format(tenant))
        client_id, secret, _ = client_credentials(request, form)
        if client_id != CLIENT[0]:
            return aad_error("unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.")
        if secret != CLIENT[1]:
            return aad_error("invalid_client", 7000215,
                             f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = form.get("code") or ""
            try:
                issued = server.exchange(code, form.get("redirect_uri"), form.get("code_verifier"))
            except TokenError as exc:
                return _code_error(exc, code in state.redeemed)
            state.redeemed.add(code)
        elif grant_type == "refresh_token":
            asked = {_graph_scope(s).lower() for s in (form.get("scope") or "").split()} - set(OIDC)
            old = server.refresh_tokens.get(form.get("refresh_token") or "")
            if old is not None and not asked <= {_graph_scope(s).lower() for s in old.scopes}:
                return aad_error("invalid_grant", 65001, "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.")
            try:
                issued = server.refresh(form.get("refresh_token"))
            except TokenError:
                return aad_error("invalid_grant", 70008, EXPIRED)
        elif not grant_type:
            return aad_error("invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        else:
            return aad_error("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
        scopes = tuple(_graph_scope(s) for s in issued.scopes)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s if s in OIDC or state.scope_format == "short" else GRAPH_RESOURCE + s for s in scopes),
            "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in,
            "access_token": issued.access_token,
        }
        if "offline_access" in scopes:
            body["refresh_token"] = issued.refresh_token
        else:  # no offline_access, no refresh token
            server.refresh_tokens.pop(issued.refresh_token or "", None)
        if "openid" in scopes:
            body["id_token"] = id_token(scopes, TENANT_ID if tenant in ("common", "organizations") else tenant)
        return Response(body, status_code=200, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    # -- Graph -----------------------------------------------------------------------------

    def guard(request: Request, needs: tuple[str, ...]) -> tuple[Any, Response | None, dict[str, str]]:
        """The caller's grant, or the error Graph answers: 401 token, 429 throttled, 403 scope."""
        issued = server.bearer(request.headers.get("authorization"))
        if issued is None:
            empty = not (request.headers.get("authorization") or "").partition(" ")[2].strip()
            return None, graph_error(401, "InvalidAuthenticationToken",
                                     "Access token is empty." if empty else "Access token has expired or is not yet valid.",
                                     request, UNAUTHENTICATED), {}
        headers = {"x-ms-resource-unit": "1"}
        wait, used = api.throttle.take()
        if wait is not None:
            server.counters["graph.throttled"] += 1
            return issued, graph_error(429, "TooManyRequests", "Please retry again later.", request, {
                "Retry-After": f"{wait:.3f}",
                "x-ms-throttle-scope": f"Tenant_Application/ReadWrite/{TENANT_ID}/{CLIENT[0]}",
                "x-ms-throttle-information": "ResourceUnitLimitExceeded"}), {}
        if used is not None and used >= 0.8:
            headers["x-ms-throttle-limit-percentage"] = f"{used:.1f}"
        granted = {_graph_scope(s).lower() for s in issued.scopes}
        if not granted & {n.lower() for n in needs}:
            if needs[0].startswith("User."):
                return issued, graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", request), {}
            return issued, graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.", request), {}
        return issued, None, headers

    def ok(request: Request, body: dict[str, Any], headers: dict[str, str]) -> Response:
        request_id = str(uuid.uuid4())
        return Response(body, media_type=ODATA_JSON, headers={
            "request-id": request_id, "client-request-id": request.headers.get("client-request-id") or request_id,
            "Cache-Control": "no-cache", **headers})

    @get("/v1.0/me")
    async def me(request: Request) -> Response:
        server.counters["graph.me"] += 1
        issued, error, headers = guard(request, ("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All"))
        if error is not None:
            return error
        u = issued.user
        user = {"businessPhones": [], "displayName": u.name, "givenName": u.given_name, "jobTitle": None, "mail": u.email,
                "mobilePhone": None, "officeLocation": None, "preferredLanguage": "fr-FR", "surname": u.family_name,
                "userPrincipalName": u.email, "id": u.id}
        return ok(request, _select(user, request, "users"), headers)

    def calendar_entity(calendar_id: str, user) -> dict[str, Any]:
        info = CALENDARS[calendar_id]
        providers = list(state.online_meeting_providers)
        return {"id": calendar_id, "name": info["name"], "color": "auto", "hexColor": "",
                "isDefaultCalendar": info["isDefaultCalendar"], "changeKey": "fJKVL07sbkiIU4AAAMg/1w==",
                "canShare": True, "canViewPrivateItems": True, "canEdit": info["canEdit"],
                "allowedOnlineMeetingProviders": providers,
                "defaultOnlineMeetingProvider": providers[0] if providers else "unknown",
                "isTallyingResponses": True, "isRemovable": info["isRemovable"],
                "owner": {"name": user.name, "address": user.email}}

    calendar_scopes = ("Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic", "Calendars.Read.Shared", "Calendars.ReadWrite.Shared")

    @get("/v1.0/me/calendar")
    async def default_calendar(request: Request) -> Response:
        server.counters["graph.calendar"] += 1
        issued, error, headers = guard(request, calendar_scopes)
        if error is not None:
            return error
        return ok(request, _select(calendar_entity(DEFAULT_CALENDAR, issued.user), request, f"users('{issued.user.id}')/calendar"), headers)

    @get("/v1.0/me/calendars/{calendar_id:str}")
    async def one_calendar(request: Request, calendar_id: FromPath[str]) -> Response:
        server.counters["graph.calendar"] += 1
        issued, error, headers = guard(request, calendar_scopes)
        if error is not None:
            return error
        if calendar_id not in CALENDARS:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.", request)
        return ok(request, _select(calendar_entity(calendar_id, issued.user), request, f"users('{issued.user.id}')/calendars"), headers)

    # -- controls --------------------------------------------------------------------------

    @post("/_control/graph", status_code=200, sync_to_thread=False)
    def configure(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        if "scopeFormat" in data:
            if data["scopeFormat"] not in ("qualified", "short"):
                raise ValueError("scopeFormat must be qualified or short")
            state.scope_format = data["scopeFormat"]
        if "throttle" in data:
            throttle = data["throttle"] or {}
            api.throttle = Throttle(int(throttle["limit"]) if throttle.get("limit") is not None else None,
                                    float(throttle.get("windowSeconds", 10)))
        if "onlineMeetingProviders" in data:
            state.online_meeting_providers = tuple(data["onlineMeetingProviders"])
            api.outlook.meeting_providers = state.online_meeting_providers
        return {"scopeFormat": state.scope_format, "throttleLimit": api.throttle.limit,
                "onlineMeetingProviders": list(state.online_meeting_providers)}

    def _code_error(exc: TokenError, reused: bool) -> Response:
        if reused:
            return aad_error("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
        if "redirect_uri" in exc.description:
            return aad_error("invalid_grant", 50011, "The redirect URI specified in the request does not match the redirect URI used to obtain the authorization code.")
        if "code_verifier" in exc.description:
            return aad_error("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        return aad_error("invalid_grant", 70000, "The provided value for the 'code' parameter is not valid.")

    def on_reset() -> None:
        fresh = GraphState()
        for field in dataclasses.fields(GraphState):
            setattr(state, field.name, getattr(fresh, field.name))
        api.outlook.meeting_providers = state.online_meeting_providers
        api.reset()
        push.reset()

    def stats() -> dict[str, Any]:
        return {"counters": {**server.counters, **{f"graph.{k}": v for k, v in api.counters.items()}},
                "outlook": {"events": sum(1 for e in api.outlook.events.values() if not e.deleted),
                            "categories": len(api.outlook.categories)},
                "teams": {"onlineMeetings": len(teams.meetings), "messages": len(teams.messages)}}

    return build_app([authorize, token, me, default_calendar, one_calendar, configure, *outlook_routes(api, server),
                      *teams_routes(api), *push_routes(api, push)],
                     server=server, faults=faults, render_fault=render_fault, on_reset=on_reset, extra_stats=stats,
                     persist={"graph": lambda: state, "outlook": lambda: api.outlook, "teams": lambda: teams,
                              "push": lambda: push})


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
