"""``ProviderContext``: what the core hands every hook about the plugin's own provider."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import httpx

from .errors import ConfigurationError, InvalidCredentials, ProviderError, ProviderPermissionDenied, RateLimited
from .http import client_options
from .netguard import Guard
from .types import ProviderInfo


@dataclasses.dataclass
class ProviderContext:
    """The provider as this hub is configured for it.

    ``endpoint(name)`` is the URL to call (real, sandbox or an operator's override);
    ``client_id``/``client_secret`` are the OAuth client's (the sandbox's documented test
    client in sandbox mode); ``http`` is the shared, instrumented client for API calls;
    ``setting(name)`` reads ``AXHUB_<SLUG>_<NAME>`` for provider-specific options;
    ``guard`` checks user-supplied destinations against SSRF before any call;
    ``deliveries`` stores outbound messages that the hub then delivers and retries;
    ``syncs`` has the hub sync an integration soon (``axhub.scheduler.triggers``).
    """

    info: ProviderInfo
    sandbox: bool
    client_id: str | None
    client_secret: str | None
    endpoints: dict[str, str]
    http: httpx.AsyncClient
    timeout: float
    _settings: dict[str, str] = dataclasses.field(default_factory=dict)
    guard: Guard = dataclasses.field(default_factory=Guard)
    # Where ``oauth_client()`` reports its calls (axhub.metering), like ``http`` does.
    recorder: Any = None
    # axhub.deliveries.Deliveries: durable outbound messages (stored, then ``deliver``ed).
    deliveries: Any = None
    # axhub.scheduler.triggers.SyncRequests: syncs on request (e.g. when an event changed).
    syncs: Any = None

    @property
    def slug(self) -> str:
        return self.info.slug

    def endpoint(self, name: str, **params: str) -> str:
        """The URL of the declared endpoint ``name`` as this hub is configured: the real one,
        the sandbox's, or the operator's ``AXHUB_<SLUG>_ENDPOINT_<NAME>``;
        ``params`` fill its ``{placeholders}``."""
        try:
            url = self.endpoints[name]
        except KeyError:
            raise LookupError(f"provider {self.slug!r} declares no endpoint {name!r}") from None
        return url.format(**params) if params else url

    def setting(self, name: str, default: str | None = None) -> str | None:
        """The operator's ``AXHUB_<SLUG>_<NAME>`` (e.g. Microsoft's ``TENANT``), or
        ``default``."""
        return self._settings.get(name.upper(), default)

    def require_client(self) -> tuple[str, str]:
        """The OAuth client id and secret; raises ``ConfigurationError`` (naming the variables
        to set) when the operator gave none."""
        if not self.client_id or not self.client_secret:
            raise ConfigurationError(
                f"provider {self.slug!r} is installed but has no OAuth client: set "
                f"AXHUB_{self.slug.upper()}_CLIENT_ID and AXHUB_{self.slug.upper()}_CLIENT_SECRET "
                "(or run in sandbox mode)"
            )
        return self.client_id, self.client_secret

    async def call(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        errors: Callable[[httpx.Response], ProviderError | None] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call at the provider through the shared client. A non-2xx answer
        raises the :class:`ProviderError` that ``errors(response)`` makes of it (or,
        when that returns None, the usual meaning of the status: :func:`classify`);
        timeouts and network failures raise ``CONNECTION_ERROR``."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ProviderError(f"{self.info.name} did not answer in time", reason="timeout") from None
        except httpx.TransportError as exc:
            raise ProviderError(f"{self.info.name} is unreachable ({type(exc).__name__})", reason="unreachable") from None
        if response.is_success:
            return response
        raise (errors(response) if errors else None) or classify(response)

    def oauth_client(self, **kwargs: Any):
        """An authlib ``AsyncOAuth2Client`` for this provider's OAuth client, on the same
        HTTP options (timeouts, User-Agent, no redirects) as ``http``."""
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        from .metering import MeteredTransport

        client_id, client_secret = self.require_client()
        if self.recorder is not None:
            kwargs.setdefault("transport", MeteredTransport(self.recorder))
        return AsyncOAuth2Client(
            client_id=client_id, client_secret=client_secret, **client_options(self.timeout), **kwargs
        )


def resolve_endpoints(info: ProviderInfo, *, sandbox_base: str | None, overrides: dict[str, str]) -> dict[str, str]:
    """Real URL, or the sandbox's, or ``AXHUB_<SLUG>_ENDPOINT_<NAME>`` when the operator set it."""
    resolved = {}
    for name, endpoint in info.endpoints.items():
        override = overrides.get(f"ENDPOINT_{name.upper()}")
        if override:
            resolved[name] = override
        elif sandbox_base is not None:
            resolved[name] = f"{sandbox_base}/{info.slug}{endpoint.sandbox_path}"
        else:
            resolved[name] = endpoint.url
    return resolved


def classify(response: httpx.Response, reason: str | None = None, message: str | None = None) -> ProviderError:
    """The usual meaning of a provider's HTTP error status, as a :class:`ProviderError`."""
    from .http import retry_after

    status = response.status_code
    text = message or f"HTTP {status}"
    if status == 401:
        return InvalidCredentials(text, reason=reason or "unauthorized", status=status)
    if status == 403:
        return ProviderPermissionDenied(text, reason=reason or "forbidden", status=status)
    if status == 429:
        return RateLimited(text, reason=reason or "rate_limited", status=status, retry_after=retry_after(response.headers))
    return ProviderError(text, reason=reason or f"http_{status}", status=status, retry_after=retry_after(response.headers))
