"""The console's session and CSRF tokens: who is signed in, and proof a form came from
the console's own page.

The session cookie holds the bearer token the user signed in with, signed with a key
derived from the hub's JWT secret; every request verifies the token again with
:func:`axhub.auth.verify_token` (the API's own check), so a token that expires ends the
session with it. The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict``
(no other site's page sends it) and ``Secure`` when the hub is served over https.

CSRF: a random value in a second cookie, and in every form the HMAC of it under the
console's key; a POST whose field does not match (compared in constant time) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from litestar import Request, Response

from ..auth import Identity, verify_token
from ..errors import ApiError

SESSION = "axhub_console"
CSRF = "axhub_csrf"
CSRF_FIELD = "csrf"
MAX_AGE = 12 * 3600  # a browser forgets the cookie after this; the token's own exp is checked too


def _key(secret: str) -> bytes:
    # A key of its own, so a console signature is never mistaken for a JWT's.
    return hmac.new(secret.encode(), b"axhub console v1", hashlib.sha256).digest()


def _sign(secret: str, value: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(_key(secret), value.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def seal(secret: str, token: str) -> str:
    return f"{token}~{_sign(secret, 'session:' + token)}"


def identity_of(secret: str, cookie: str | None) -> Identity | None:
    """The signed-in identity, or None (no cookie, a forged or stale one, an expired token)."""
    if not cookie or "~" not in cookie:
        return None
    token, _, signature = cookie.rpartition("~")
    if not hmac.compare_digest(signature, _sign(secret, "session:" + token)):
        return None
    try:
        return verify_token(secret, f"Bearer {token}")
    except ApiError:
        return None


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def set_session(response: Response, request: Request, secret: str, token: str) -> None:
    response.set_cookie(SESSION, seal(secret, token), path="/console", max_age=MAX_AGE, httponly=True,
                        samesite="strict", secure=secure(request))


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION, path="/console")


def csrf_seed(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie value, and whether it is new (to be set)."""
    seed = request.cookies.get(CSRF)
    if seed and len(seed) == 43:
        return seed, False
    return secrets.token_urlsafe(32), True


def csrf_token(secret: str, seed: str) -> str:
    return _sign(secret, "csrf:" + seed)


def set_csrf(response: Response, request: Request, seed: str) -> None:
    response.set_cookie(CSRF, seed, path="/console", httponly=True, samesite="strict", secure=secure(request))


def csrf_ok(secret: str, request: Request, sent: str | None) -> bool:
    seed = request.cookies.get(CSRF)
    return bool(seed and sent) and hmac.compare_digest(str(sent), csrf_token(secret, seed))
