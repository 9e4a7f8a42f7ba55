"""Bearer JWT authentication (authlib's JOSE, HS256) and the role ladder.

Claims: ``sub`` (user id), ``org`` (organisation id), ``role`` (member, manager, admin),
optional ``name`` and ``email``, ``exp``. The Attendance-X back end signs them with the
shared ``AXHUB_JWT_SECRET``; ``axhub token create`` mints one for operators and tests.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from authlib.jose import JsonWebToken
from authlib.jose.errors import JoseError

from .errors import ApiError

ROLES = ("member", "manager", "admin")
_jwt = JsonWebToken(["HS256"])
ISSUER = "axhub"


class Identity(msgspec.Struct, frozen=True):
    user_id: str
    org_id: str
    role: str
    name: str | None = None
    email: str | None = None

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def as_user(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "email": self.email}


def create_token(
    secret: str,
    *,
    org: str,
    role: str,
    user: str,
    name: str | None = None,
    email: str | None = None,
    ttl: int = 3600,
    now: float | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": user, "org": org, "role": role, "iat": issued, "exp": issued + ttl, "iss": ISSUER}
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    return _jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, secret).decode()


LEEWAY = 30  # seconds of clock difference allowed on exp and nbf
# Tokens already verified, with the times they hold: the Attendance-X back end sends
# the same token with many requests, and its signature and claims check out the same
# way each time (only its time window can change, which is checked on every use).
_VERIFIED: dict[tuple[str, str], tuple[Identity, float, float | None]] = {}
_VERIFIED_MAX = 4096


def verify_token(secret: str, authorization: str | None) -> Identity:
    known = _VERIFIED.get((secret, authorization)) if authorization else None
    if known is not None:
        identity, exp, nbf = known
        now = time.time()
        if now <= exp + LEEWAY and (nbf is None or nbf <= now + LEEWAY):
            return identity
        del _VERIFIED[(secret, authorization)]  # out of its window: checked again, in full
    identity, claims = _verify(secret, authorization)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    nbf = claims.get("nbf")
    _VERIFIED[(secret, authorization)] = (identity, float(claims["exp"]),  # type: ignore[index]
                                          float(nbf) if isinstance(nbf, (int, float)) else None)
    return identity


def _verify(secret: str, authorization: str | None) -> tuple[Identity, Any]:
    if not authorization:
        raise ApiError("UNAUTHORIZED", "missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("UNAUTHORIZED", "the Authorization header must be 'Bearer <token>'")
    try:
        claims = _jwt.decode(
            token.strip(),
            secret,
            claims_options={
                "exp": {"essential": True},
                "sub": {"essential": True},
                "org": {"essential": True},
                "role": {"essential": True, "values": list(ROLES)},
            },
        )
        claims.validate(leeway=LEEWAY)
    except JoseError as exc:
        reason = "expired" if exc.error == "expired_token" else "invalid"
        raise ApiError("UNAUTHORIZED", f"bearer token {reason}: {exc.error}") from None
    except Exception:  # noqa: BLE001 - malformed tokens raise assorted decoding errors
        raise ApiError("UNAUTHORIZED", "bearer token invalid: malformed") from None
    if not all(isinstance(claims.get(k), str) and claims.get(k) for k in ("sub", "org", "role")):
        raise ApiError("UNAUTHORIZED", "bearer token invalid: sub, org and role must be strings")
    return Identity(
        user_id=claims["sub"],
        org_id=claims["org"],
        role=claims["role"],
        name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        email=claims.get("email") if isinstance(claims.get("email"), str) else None,
    ), claims


def require_role(identity: Identity, role: str) -> None:
    if not identity.at_least(role):
        raise ApiError("PERMISSION_DENIED", f"this action needs the {role} role or higher; you are {identity.role}")
