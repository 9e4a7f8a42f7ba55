"""Wire types shared by every controller: the envelope, errors, pagination."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter


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


# Every list's paging, declared once: the bounds are the server's real ones (an offset
# past MAX_PAGE × 500 rows would overflow a database integer long before it found a row).
MAX_PAGE = 1_000_000
MAX_LIMIT = 500
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="entries per page (default 50)")]
