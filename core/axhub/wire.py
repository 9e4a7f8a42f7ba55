"""Wire types shared by every controller: the envelope, errors, pagination."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.params import QueryParameter

from .errors import CODES


class Wire(msgspec.Struct, rename="camel"):
    """camelCase on the wire, as the spec."""


# The spec's error codes and the hub's own, as an enum in the OpenAPI.
ErrorCode = Literal[tuple(CODES)]  # type: ignore[valid-type]


class ErrorBody(Wire, omit_defaults=True):
    code: ErrorCode
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


# Every list's paging, declared once: the bounds are the server's real ones (an offset
# past MAX_PAGE × 500 rows would overflow a database integer long before it found a row).
MAX_PAGE = 1_000_000
MAX_LIMIT = 500
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="entries per page (default 50)")]
# Dates in query strings, read with datetime.fromisoformat.
DATE_TIME = {"format": "date-time"}
DATE_OR_DATE_TIME = {"anyOf": [{"format": "date"}, {"format": "date-time"}]}
