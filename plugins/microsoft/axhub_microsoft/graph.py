"""Microsoft identity platform and Graph quirks: tenants, scope spellings, error bodies."""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable

import httpx

from axhub import ConfigurationError, ProviderContext, ProviderError, classify

GRAPH_RESOURCE = "https://graph.microsoft.com/"
# Scopes the hub itself needs: OpenID sign-in, a refresh token, and /me.
IDENTITY = ("openid", "profile", "email", "offline_access", "User.Read")

_AUDIENCES = {"common", "organizations", "consumers"}
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)


def valid_tenant(value: str) -> bool:
    """``common``, ``organizations``, ``consumers``, a directory id or a verified domain."""
    return value in _AUDIENCES or bool(_GUID.match(value) or _DOMAIN.match(value))


def tenant_of(ctx: ProviderContext) -> str:
    tenant = (ctx.setting("TENANT") or "common").strip()
    if not valid_tenant(tenant):
        # An operator's mistake, reported like a missing OAuth client (see require_client).
        raise ConfigurationError(
            f"AXHUB_MICROSOFT_TENANT={tenant!r} is not a Microsoft tenant: use common, organizations, "
            "consumers, a directory (tenant) id or a verified domain such as contoso.onmicrosoft.com")
    return tenant


def at_tenant(ctx: ProviderContext, tenant: str) -> ProviderContext:
    """The context with ``{tenant}`` filled in the sign-in endpoints, for axhub.oauth's helpers,
    which take endpoint names."""
    endpoints = {name: ctx.endpoint(name, tenant=tenant) for name in ctx.endpoints}
    return dataclasses.replace(ctx, endpoints=endpoints)


def normalise_scopes(scopes: Iterable[str], known: Iterable[str]) -> tuple[str, ...]:
    """Graph scopes as declared by the plugin. The token endpoint answers them short
    (``Calendars.Read``) or resource-qualified (``https://graph.microsoft.com/calendars.read``),
    and Entra ID compares them case-insensitively."""
    canonical = {k.lower(): k for k in known}
    out: list[str] = []
    for scope in scopes:
        if scope.lower().startswith(GRAPH_RESOURCE):
            scope = scope[len(GRAPH_RESOURCE):]
        out.append(canonical.get(scope.lower(), scope))
    return tuple(dict.fromkeys(out))


def graph_error(response: httpx.Response) -> ProviderError | None:
    """Graph's ``{"error": {"code", "message", "innerError": {"request-id", …}}}``; the status
    carries the meaning (401 token, 403 permission, 429 throttling with Retry-After)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    code = error.get("code") or None
    message = error.get("message") or f"HTTP {response.status_code}"
    inner = error.get("innerError") or {}
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    if request_id:  # what Microsoft support asks for
        message = f"{message} (request-id {request_id})"
    return classify(response, code, message)


def first_line(status: int, body: dict) -> dict:
    """Entra ID appends trace, correlation ids and a timestamp to ``error_description``
    on new lines; the first line ("AADSTS70008: …") is the message, the ids stay in the body."""
    description = body.get("error_description")
    if isinstance(description, str) and "\n" in description:
        body = {**body, "error_description": description.splitlines()[0].strip()}
    return body
