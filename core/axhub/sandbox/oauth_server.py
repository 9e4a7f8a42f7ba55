"""The sandboxes' OAuth 2.0 authorization server, in memory: codes, PKCE S256, access
and refresh tokens, rotation, revocation and expiry, for a sandbox's own routes to call
and render in their provider's shapes; and the test user every consent approves as."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import time
from collections import Counter
from urllib.parse import urlencode, urlsplit

from litestar import Request


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
        """Forget every code and token, and the settings tests changed (TTL, rotation)."""
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
        """Raise ``TokenError("invalid_client", status=401)`` unless these are the sandbox's
        client (the secret compared in constant time)."""
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
        """Spend an authorization code (single use, even when refused) for tokens, checking its
        redirect URI and PKCE verifier; raises ``TokenError("invalid_grant")``."""
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
        """A new access token for a live refresh token; with rotation on, a new refresh token
        too and the old one dead. Raises ``TokenError("invalid_grant")``."""
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
        """RFC 7009: revoke an access or refresh token and what was issued with it; True when
        it was live."""
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
        """Make every access token expired now (the next call needs a refresh)."""
        for issued in self.access.values():
            issued.expires_at = 0

    def revoke_all(self) -> None:
        """Kill every token, as when the user removes the app at the provider."""
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
