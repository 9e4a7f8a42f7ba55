"""Wire types shared by every controller: the envelope, errors, pagination."""

from __future__ import annotations

from typing import Any

import msgspec


class Wire(msgspec.Struct, rename="camel"):
    """camelCase on the wire, as the spec."""


class ErrorBody(Wire, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] | None = None


class ErrorResponse(Wire, kw_only=True):
    success: bool = False
    error: ErrorBody


class Meta(Wire):
    page: int
    limit: int
    total: int
    total_pages: int
