"""Webhook settings (spec: "Webhooks et événements — Configuration des webhooks")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from axhub import HTTP_URL_PATTERN, Blocked, Guard, Settings, SettingsError, validating_guard

EventName = Literal[
    "eventCreated", "eventUpdated", "eventDeleted", "attendanceUpdated", "syncCompleted", "syncFailed", "integrationError"
]
# Set by the hub for every delivery (Standard Webhooks) or by HTTP itself: never by a user.
# (Content-Type may be set, as the spec's example does; the body is JSON either way.)
RESERVED_HEADERS = {
    "host", "content-length", "transfer-encoding", "connection", "webhook-id", "webhook-timestamp",
    "webhook-signature", "user-agent", "te", "upgrade", "expect", "keep-alive", "proxy-authorization",
}


def _bounds(low: float, high: float) -> msgspec.Meta:
    """Bounds said in the schema only: WebhooksSettings checks them, naming the event."""
    return msgspec.Meta(extra_json_schema={"minimum": low, "maximum": high})


class RetryPolicy(Settings):
    max_retries: Annotated[int, _bounds(0, 20)] = 5
    backoff_multiplier: Annotated[float, _bounds(1, 10)] = 2.0


class Filters(Settings):
    event_types: list[str] = []
    min_attendance_change: Annotated[float, _bounds(0, 1)] = 0.0


# Custom headers ride on every delivery: a few, of a size receivers and proxies accept
# (8 KiB is the common per-header limit), named as HTTP tokens (RFC 9110 §5.6.2).
MAX_HEADERS, MAX_HEADER_NAME, MAX_HEADER_VALUE = 32, 256, 8192
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE = r"^[\t\x20-\x7e]*$"  # printable ASCII: what every HTTP stack sends as is
# Schema only, like the URL: the checks below name the header at fault.
HeaderValue = Annotated[str, msgspec.Meta(extra_json_schema={"maxLength": MAX_HEADER_VALUE, "pattern": HEADER_VALUE})]


class Endpoint(Settings):
    # Declared for the schema only (the pattern says what Guard.check_url accepts; the
    # operator's rules, https only and non-public addresses, come on top when saved):
    # checked in WebhooksSettings, where the fault can be named by its event (msgspec
    # would say ``webhooks[...].url``).
    url: Annotated[str, msgspec.Meta(extra_json_schema={"pattern": HTTP_URL_PATTERN, "maxLength": 2048})]
    enabled: bool = True
    headers: Annotated[dict[str, HeaderValue], msgspec.Meta(extra_json_schema={
        "maxProperties": MAX_HEADERS, "propertyNames": {"maxLength": MAX_HEADER_NAME, "pattern": HEADER_NAME}})] = {}
    retry_policy: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    filters: Filters = msgspec.field(default_factory=Filters)


class WebhooksSettings(Settings):
    webhooks: dict[EventName, Endpoint] = {}

    def __post_init__(self) -> None:
        # Saved, they meet the hub's rules (https only, no address the send would refuse);
        # read back, they are only parsed, so that a rule switched on later fails their
        # sends instead of every read.
        saving = validating_guard()
        check = saving.check_destination if saving is not None else Guard().check_url
        for event, endpoint in self.webhooks.items():
            at = f"webhooks.{event}"
            try:
                check(endpoint.url)
            except Blocked as exc:
                raise SettingsError(f"{at}.url", exc.reason) from None
            if len(endpoint.headers) > MAX_HEADERS:
                raise SettingsError(f"{at}.headers", f"at most {MAX_HEADERS} headers")
            for name in endpoint.headers:
                if name.lower() in RESERVED_HEADERS:
                    raise SettingsError(f"{at}.headers.{name}", "this header is set by the hub and may not be configured")
                if len(name) > MAX_HEADER_NAME or not re.fullmatch(HEADER_NAME, name):
                    raise SettingsError(f"{at}.headers", f"{name[:64]!r} is not a valid header name")
            for name, value in endpoint.headers.items():
                if "\r" in value or "\n" in value:
                    raise SettingsError(f"{at}.headers.{name}", "header values may not contain line breaks")
                if not re.fullmatch(HEADER_VALUE, value):
                    raise SettingsError(f"{at}.headers.{name}", "header values are printable ASCII")
                if len(value) > MAX_HEADER_VALUE:
                    raise SettingsError(f"{at}.headers.{name}", f"at most {MAX_HEADER_VALUE} characters")
            policy = endpoint.retry_policy
            if not 0 <= policy.max_retries <= 20:
                raise SettingsError(f"{at}.retryPolicy.maxRetries", "must be between 0 and 20")
            if not 1.0 <= policy.backoff_multiplier <= 10.0:
                raise SettingsError(f"{at}.retryPolicy.backoffMultiplier", "must be between 1 and 10")
            if not 0.0 <= endpoint.filters.min_attendance_change <= 1.0:
                raise SettingsError(f"{at}.filters.minAttendanceChange", "must be a fraction between 0 and 1")
