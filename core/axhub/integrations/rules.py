"""The rules an integration's request must meet: scopes the provider offers,
settings of the plugin's type within the operator's bounds, notification preferences,
an allowed redirect URI, and the permissions a grant carries."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ..errors import validation_error
from ..netguard import Guard, validating
from ..runtime.services import Services
from ..types import ProviderInfo, SyncSettings
from ..validation import convert
from ..vault import seal_settings
from . import schemas as s

# Settings accepted at the top level of PUT /settings, as the spec writes them: what
# every scheduled provider understands, and the outbound webhooks' block ("Configuration
# des webhooks"). Each is refused for a provider whose settings have no such field.
TOP_LEVEL_SETTINGS = {"sync_direction": "syncDirection", "auto_sync": "autoSync", "sync_interval": "syncInterval",
                      "webhooks": "webhooks"}


def resolve_scopes(info: ProviderInfo, requested: list[str] | None) -> list[str]:
    scopes = list(info.default_scopes) if requested is None else requested
    if not scopes:
        raise validation_error("scopes", f"at least one scope is needed; {info.slug} offers {', '.join(x.name for x in info.scopes)}")
    for i, name in enumerate(scopes):
        if info.scope(name) is None:
            raise validation_error(
                f"scopes[{i}]", f"unknown scope {name!r} for {info.slug}; offered: {', '.join(x.name for x in info.scopes)}"
            )
    return list(dict.fromkeys(scopes))


def validate_settings(svc: Services, info: ProviderInfo, data: dict[str, Any], *, prefix: str = "settings") -> dict[str, Any]:
    # Destinations being saved meet the operator's outbound rules (https only…) now,
    # rather than being refused at their first send.
    with validating(Guard.from_env(svc.config.env)):
        obj = convert(data, info.settings_type, prefix=prefix)
    if isinstance(obj, SyncSettings):
        low, high = svc.config.sync_interval_min, svc.config.sync_interval_max
        if not low <= obj.sync_interval <= high:
            raise validation_error(f"{prefix}.syncInterval", f"must be between {low} and {high} seconds")
    # As stored: the plugin's secret settings sealed by the vault.
    return seal_settings(svc.cipher, msgspec.to_builtins(obj), info.secret_settings)


def validate_notifications(data: dict[str, Any] | None) -> dict[str, Any]:
    return msgspec.to_builtins(convert(data or {}, s.NotificationPrefs, prefix="notifications"))


def validate_redirect_uri(svc: Services, slug: str, value: str | None) -> str:
    if value is None:
        return f"{svc.config.public_url}/oauth/{slug}/callback"
    if not re.fullmatch(s.REDIRECT_URI, value):
        raise validation_error("redirectUri", "must be an absolute http(s) URL without a fragment")
    allowed = svc.config.env.get("AXHUB_REDIRECT_URIS")
    if allowed:
        prefixes = [p.strip() for p in allowed.split(",") if p.strip()]
        if not any(value.startswith(p) for p in prefixes):
            raise validation_error("redirectUri", "is not in the operator's list of allowed redirect URIs (AXHUB_REDIRECT_URIS)")
    return value


def permissions_for(info: ProviderInfo, scopes: list[str], granted: set[str]) -> dict[str, bool]:
    """Each permission the requested scopes carry, and whether the provider granted it."""
    result: dict[str, bool] = {}
    for name in scopes:
        scope = info.scope(name)
        if scope is None:
            continue
        ok = all(p in granted for p in scope.provider_scopes)
        for permission in scope.permissions:
            result[permission] = result.get(permission, False) or ok
    return result
