"""Building blocks for provider sandboxes (public API for plugin authors).

A sandbox is a small ASGI app that answers the part of a provider's real API that its
plugin uses, with the provider's real request and response shapes. This module holds
what every sandbox needs and no provider's quirks:

- :class:`OAuthServer`: an in-memory authorization server (codes, PKCE S256, access and
  refresh tokens, rotation, revocation, expiry) that a sandbox's own routes call and
  render in their provider's shapes;
- :class:`Faults`: fault injection (status, body, headers, delay, count) on any route;
- :func:`build_app`: a Litestar app of the provider's routes plus ``/_control`` routes
  that tests use to read counters, inject faults, expire or revoke tokens.

Every sandbox auto-approves consent as :data:`TEST_USER`; adding
``sandbox_consent=deny`` to the authorization URL takes the ``access_denied`` path.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import secrets
import time
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import urlencode, urlsplit

from litestar import Litestar, Request, Response, delete, get, post
from litestar.params import JSONBody
from litestar.response import Redirect


@dataclasses.dataclass(frozen=True)
class TestUser:
    id: str = "sandbox-user-1"
    email: str = "marie.dubois@example.com"
    name: str = "Marie Dubois"
    given_name: str = "Marie"
    family_name: str = "Dubois"
    avatar: str = "https://sandbox.axhub.invalid/avatars/marie.png"


TEST_USER = TestUser()


class TokenError(Exception):
    """An OAuth error the token endpoint answers; the sandbox renders it its provider's way."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclasses.dataclass
class Issued:
    access_token: str
    refresh_token: str | None
    expires_in: int
    expires_at: float
    scopes: tuple[str, ...]
    client_id: str
    user: TestUser


@dataclasses.dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    expires_at: float


class OAuthServer:
    """In-memory OAuth 2.0 authorization server shared by the sandboxes."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        prefix: str,
        access_ttl: int = 3600,
        rotate_refresh: bool = False,
        scope_separator: str = " ",
        user: TestUser = TEST_USER,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.prefix = prefix
        self.access_ttl = access_ttl
        self.rotate_refresh = rotate_refresh
        self.scope_separator = scope_separator
        self.user = user
        self._defaults = (access_ttl, rotate_refresh)
        self.reset()

    def reset(self) -> None:
        self.access_ttl, self.rotate_refresh = self._defaults
        self.codes: dict[str, _Code] = {}
        self.access: dict[str, Issued] = {}
        self.refresh_tokens: dict[str, Issued] = {}
        self.counters: Counter[str] = Counter()
        self.ever_issued: set[str] = set()

    # -- consent -----------------------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> str:
        """The redirect after consent: ``redirect_uri`` with ``code`` and ``state`` (or
        ``error=access_denied``). Raises TokenError for requests a provider would refuse
        to redirect at all (unknown client, missing redirect URI)."""
        self.counters["authorize"] += 1
        if params.get("client_id") != self.client_id:
            raise TokenError("invalid_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri") or ""
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            raise TokenError("invalid_request", "redirect_uri missing or not absolute")
        if params.get("response_type") != "code":
            raise TokenError("unsupported_response_type", "response_type must be code")
        challenge = params.get("code_challenge")
        if challenge and params.get("code_challenge_method") != "S256":
            raise TokenError("invalid_request", "only code_challenge_method=S256 is supported")
        back: dict[str, str] = {}
        if params.get("sandbox_consent") == "deny":
            back = {"error": "access_denied", "error_description": "The user denied access"}
        else:
            code = f"{self.prefix}-code-{secrets.token_urlsafe(24)}"
            scope = params.get("scope") or ""
            scopes = tuple(x for x in scope.replace(",", " ").split() if x)
            self.codes[code] = _Code(self.client_id, redirect_uri, scopes, challenge, time.time() + 600)
            back = {"code": code}
        if "state" in params:
            back["state"] = params["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return f"{redirect_uri}{sep}{urlencode(back)}"

    # -- tokens ------------------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.client_id or not secrets.compare_digest(client_secret or "", self.client_secret):
            raise TokenError("invalid_client", "client authentication failed", status=401)

    def _issue(self, client_id: str, scopes: tuple[str, ...], refresh: bool = True) -> Issued:
        issued = Issued(
            access_token=f"{self.prefix}-at-{secrets.token_urlsafe(24)}",
            refresh_token=f"{self.prefix}-rt-{secrets.token_urlsafe(24)}" if refresh else None,
            expires_in=self.access_ttl,
            expires_at=time.time() + self.access_ttl,
            scopes=scopes,
            client_id=client_id,
            user=self.user,
        )
        self.access[issued.access_token] = issued
        self.ever_issued.add(issued.access_token)
        if issued.refresh_token:
            self.ever_issued.add(issued.refresh_token)
            self.refresh_tokens[issued.refresh_token] = issued
        return issued

    def exchange(self, code: str | None, redirect_uri: str | None, verifier: str | None) -> Issued:
        self.counters["token.authorization_code"] += 1
        grant = self.codes.pop(code or "", None)  # single use, even when it fails below
        if grant is None or grant.expires_at < time.time():
            raise TokenError("invalid_grant", "authorization code is invalid, expired or already used")
        if redirect_uri != grant.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri does not match the authorization request")
        if grant.challenge is not None:
            if not verifier:
                raise TokenError("invalid_grant", "code_verifier is required")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not secrets.compare_digest(digest, grant.challenge):
                raise TokenError("invalid_grant", "code_verifier does not match the code_challenge")
        return self._issue(grant.client_id, grant.scopes)

    def refresh(self, refresh_token: str | None) -> Issued:
        self.counters["token.refresh_token"] += 1
        old = self.refresh_tokens.get(refresh_token or "")
        if old is None:
            raise TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        if self.rotate_refresh:
            del self.refresh_tokens[refresh_token]  # rotated: the old one is dead from now on
            return self._issue(old.client_id, old.scopes)
        new = self._issue(old.client_id, old.scopes, refresh=False)
        new.refresh_token = refresh_token
        return new

    def revoke(self, token: str | None) -> bool:
        self.counters["revoke"] += 1
        found = False
        if token in self.access:
            issued = self.access.pop(token)
            if issued.refresh_token:
                self.refresh_tokens.pop(issued.refresh_token, None)
            found = True
        if token in self.refresh_tokens:
            self.refresh_tokens.pop(token)
            for key in [k for k, v in self.access.items() if v.refresh_token == token]:
                self.access.pop(key)
            found = True
        return found

    def bearer(self, authorization: str | None) -> Issued | None:
        """The grant behind ``Authorization: Bearer …``, if live."""
        scheme, _, token = (authorization or "").partition(" ")
        issued = self.access.get(token.strip()) if scheme.lower() == "bearer" else None
        if issued is None or issued.expires_at < time.time():
            return None
        return issued

    def expire_access_tokens(self) -> None:
        for issued in self.access.values():
            issued.expires_at = 0

    def revoke_all(self) -> None:
        self.access.clear()
        self.refresh_tokens.clear()


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(client_id, client_secret, how) from HTTP Basic or the form body."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            raw = base64.b64decode(auth[6:].strip()).decode()
        except ValueError:
            return None, None, "basic"
        from urllib.parse import unquote

        cid, _, secret = raw.partition(":")
        return unquote(cid), unquote(secret), "basic"
    return form.get("client_id"), form.get("client_secret"), "post"


@dataclasses.dataclass
class Fault:
    path: str
    status: int
    method: str | None = None
    count: int = 1
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    after: int = 0  # let this many matching requests through first (a fault mid-listing)


class Faults:
    """Faults injected by tests: the next ``count`` matching requests get ``status``
    (0 means: hang for ``delay`` seconds, then answer normally — a slow provider).

    ``per_call`` names the paths (a predicate) whose faults the sandbox's own call
    pipeline takes, with ``take(..., per_call=True)``, instead of build_app's request
    hook: a provider with a batch endpoint runs batched calls through that pipeline, so
    a rule meets each call once, direct or batched."""

    def __init__(self, per_call: Callable[[str], bool] | None = None) -> None:
        self.rules: list[Fault] = []
        self.per_call = per_call
        # A fault that said Retry-After: until when its path is to be left alone, and how
        # many requests came back sooner (a client that does not honour Retry-After).
        self.waits: dict[tuple[str, str | None], float] = {}
        self.early = 0

    def take(self, method: str, path: str, *, per_call: bool = False) -> Fault | None:
        if not per_call and self.per_call is not None and self.per_call(path):
            return None
        now = time.monotonic()
        if any(path.startswith(p) and m in (None, method) and now < until for (p, m), until in self.waits.items()):
            self.early += 1
        for rule in self.rules:
            if path.startswith(rule.path) and (rule.method is None or rule.method == method):
                if rule.after > 0:
                    rule.after -= 1
                    return None
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                wait = _seconds(rule.headers.get("Retry-After"))
                if wait is not None:
                    self.waits[(rule.path, rule.method)] = now + wait
                return rule
        return None

    def clear(self) -> None:
        self.rules.clear()
        self.waits.clear()
        self.early = 0


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not what tests inject


def _control_routes(server: OAuthServer | None, faults: Faults, extra_stats: Callable[[], dict] | None, on_reset: Callable[[], None] | None) -> list[Any]:
    @get("/_control/stats", sync_to_thread=False)
    def stats() -> dict[str, Any]:
        data: dict[str, Any] = {"counters": dict(server.counters) if server else {},
                                # Requests that came back before an injected Retry-After ran out.
                                "earlyRetries": faults.early}
        if server:
            data["liveAccessTokens"] = sum(1 for i in server.access.values() if i.expires_at > time.time())
            data["liveRefreshTokens"] = len(server.refresh_tokens)
        if extra_stats:
            data.update(extra_stats())
        return data

    @get("/_control/tokens", sync_to_thread=False)
    def tokens() -> dict[str, Any]:
        # Test-only: lets a test look for the exact secrets the provider issued (in the
        # hub's database, logs and responses, where they must never appear in clear).
        if server is None:
            return {"accessTokens": [], "refreshTokens": []}
        return {"accessTokens": sorted(server.access), "refreshTokens": sorted(server.refresh_tokens),
                "everIssued": sorted(server.ever_issued)}

    @post("/_control/config", status_code=200, sync_to_thread=False)
    def configure(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        if server is not None:
            if "accessTokenTtl" in data:
                server.access_ttl = int(data["accessTokenTtl"])
            if "rotateRefreshTokens" in data:
                server.rotate_refresh = bool(data["rotateRefreshTokens"])
        return {"accessTokenTtl": server.access_ttl if server else None}

    @post("/_control/faults", status_code=200, sync_to_thread=False)
    def add_fault(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        faults.rules.append(
            Fault(
                path=str(data["path"]),
                status=int(data.get("status", 500)),
                method=data.get("method"),
                count=int(data.get("count", 1)),
                body=data.get("body"),
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                delay=float(data.get("delay", 0)),
                after=int(data.get("after", 0)),
            )
        )
        return {"faults": len(faults.rules)}

    @delete("/_control/faults", status_code=200, sync_to_thread=False)
    def clear_faults() -> dict[str, Any]:
        faults.clear()
        return {"faults": 0}

    @post("/_control/expire-access-tokens", status_code=200, sync_to_thread=False)
    def expire() -> dict[str, Any]:
        if server:
            server.expire_access_tokens()
        return {"ok": True}

    @post("/_control/revoke-all", status_code=200, sync_to_thread=False)
    def revoke_all() -> dict[str, Any]:
        if server:
            server.revoke_all()
        return {"ok": True}

    @post("/_control/reset", status_code=200, sync_to_thread=False)
    def reset() -> dict[str, Any]:
        faults.clear()
        if server:
            server.reset()
        if on_reset:
            on_reset()
        return {"ok": True}

    return [stats, tokens, configure, add_fault, clear_faults, expire, revoke_all, reset]


def build_app(
    routes: Iterable[Any],
    *,
    server: OAuthServer | None,
    faults: Faults | None = None,
    render_fault: Callable[[Fault], Response] | None = None,
    extra_stats: Callable[[], dict] | None = None,
    on_reset: Callable[[], None] | None = None,
) -> Litestar:
    """A sandbox app: the provider's ``routes`` + ``/_control``, with fault injection.

    ``render_fault`` turns an injected fault into the provider's error shape when the
    test gave no body of its own; ``extra_stats`` adds to ``GET /_control/stats`` and
    ``on_reset`` clears the sandbox's own data on ``POST /_control/reset``."""
    faults = faults or Faults()

    async def inject(request: Request) -> Response | None:
        if request.url.path.startswith("/_control"):
            return None
        rule = faults.take(request.method, request.url.path)
        if rule is None:
            return None
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.status == 0:
            return None
        if rule.body is None and render_fault is not None:
            response = render_fault(rule)
            response.headers.update(rule.headers)
            return response
        return Response(content=rule.body if rule.body is not None else {"error": "injected"}, status_code=rule.status, headers=rule.headers)

    app = Litestar(
        route_handlers=[*routes, *_control_routes(server, faults, extra_stats, on_reset)],
        before_request=inject,
        openapi_config=None,
        logging_config=None,
    )
    app.state.faults = faults
    app.state.oauth = server
    return app


def redirect(url: str) -> Redirect:
    return Redirect(url, status_code=302)


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items()}
