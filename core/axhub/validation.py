"""Turning msgspec's validation errors into the API's ``VALIDATION_ERROR`` with a field,
and the checks of values several domains take (an IANA time zone)."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import msgspec

from .errors import SettingsError, validation_error

_AT = re.compile(r"^(?P<msg>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


def join(prefix: str, path: str) -> str:
    path = path.lstrip(".")
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + ("" if path.startswith("[") else ".") + path


def field_of(error: Exception, prefix: str = "") -> tuple[str, str]:
    """(field, message) for a msgspec ValidationError, e.g. ("settings.syncInterval", …)."""
    m = _AT.match(str(error))
    message, path = (m.group("msg"), m.group("path") or "") if m else (str(error), "")
    key = re.search(r"value '([^']*)'", message) if m and m.group("key") else None
    if key:  # a bad dictionary key: name it (e.g. "webhooks.eventExploded")
        path = join(path, key.group(1))
    named = _NAMED.search(message)
    if named:
        path = join(path, named.group("name"))
    return join(prefix, path) or prefix or "body", message


def convert(data: Any, type_: type, *, prefix: str) -> Any:
    """``msgspec.convert`` that fails as a 400 naming the field."""
    try:
        return msgspec.convert(data, type_)
    except SettingsError as exc:
        raise validation_error(join(prefix, exc.field), exc.message) from None
    except msgspec.ValidationError as exc:
        field, message = field_of(exc, prefix)
        raise validation_error(field, message) from None


def strict(data: Any, type_: Any) -> Any:
    """``data`` held to a body's declared type as the OpenAPI says it, strictly ("300" is
    no integer): every API body meets it before its handler (``api/guards.py``), and the
    console's forms meet it too, so both refuse the same input with the same field."""
    try:
        # JSON Schema counts 1.0 as an integer, and so does the hub: integral numbers are
        # made ints before the strict check.
        return msgspec.convert(integral(data), type_, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise validation_error(field, message) from None
    except SettingsError as exc:
        raise validation_error(exc.field, exc.message) from None


def integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integral(v) for v in value]
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    return value


# The IANA zones this machine knows, as a type: what check_timezone accepts, declared
# as an enum in the OpenAPI of the bodies that take a zone (a plain string where the
# machine has no zone database to list).
_ZONES = tuple(sorted(available_timezones()))
TimeZone = Literal[_ZONES] if _ZONES else str  # type: ignore[valid-type]


def check_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise validation_error(field, f"{name!r} is not an IANA time zone") from None
    return name
