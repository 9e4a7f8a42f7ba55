"""Plugin discovery and the typed facade the rest of the core calls hooks through.

Entry points in the group ``axhub`` are loaded on first use, filtered by
``AXHUB_PLUGINS`` (allow-list; set but empty means none) and ``AXHUB_DISABLE_PLUGINS``.
A plugin that fails to import, register or describe itself is recorded as broken with
its error, logged, and skipped: the hub starts without it.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import logging
from types import ModuleType
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs, metering, oauth_hooks
from .config import Config
from .errors import ApiError
from .http import new_client
from .metering import CallRecorder, MeteredTransport, attribute
from .netguard import Guard
from .provider import ProviderContext, resolve_endpoints
from .types import PROVIDER_TYPES, ProviderInfo, Settings

log = logging.getLogger("axhub.plugins")

PER_PROVIDER_HOOKS = ("authorize", "exchange_code", "refresh", "test_connection", "disconnect", "sync", "deliver",
                      "subscribe", "renew", "unsubscribe", "receive")
HOOKS = ("provider_info", *PER_PROVIDER_HOOKS, "notify")


@dataclasses.dataclass
class PluginRecord:
    name: str
    status: str  # loaded | disabled | broken
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    info: ProviderInfo | None = None
    hooks: tuple[str, ...] = ()
    # Of ``hooks``, those the core implements from the declared OAuth profile.
    standard: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "type": self.info.type if self.info else None,
            "hooks": list(self.hooks),
        }


def validate_info(name: str, info: Any) -> ProviderInfo:
    if not isinstance(info, ProviderInfo):
        raise TypeError(f"provider_info() returned {type(info).__name__}, not axhub.ProviderInfo")
    if info.slug != name:
        raise ValueError(f"provider_info().slug is {info.slug!r} but the entry point is named {name!r}")
    if info.type not in PROVIDER_TYPES:
        raise ValueError(f"type {info.type!r} is not one of {', '.join(PROVIDER_TYPES)}")
    if not (isinstance(info.settings_type, type) and issubclass(info.settings_type, Settings)):
        raise TypeError("settings_type must be a subclass of axhub.Settings")
    names = {s.name for s in info.scopes}
    if len(names) != len(info.scopes):
        raise ValueError("scope names must be unique")
    unknown = [s for s in info.default_scopes if s not in names]
    if unknown:
        raise ValueError(f"default_scopes names undeclared scopes: {', '.join(unknown)}")
    if info.oauth and not {"authorize", "token"} <= set(info.endpoints):
        raise ValueError("an OAuth provider must declare 'authorize' and 'token' endpoints")
    if info.oauth2 is not None:
        profile = info.oauth2
        named = (profile.authorize_endpoint, profile.token_endpoint, profile.revoke_endpoint, profile.userinfo_endpoint)
        missing = [n for n in named if n is not None and n not in info.endpoints]
        if missing:
            raise ValueError(f"oauth2 names endpoints that are not declared: {', '.join(missing)}")
        if not info.oauth:
            raise ValueError("oauth2 is declared but 'oauth' is not among the capabilities")
    try:
        info.settings_type()
    except Exception as exc:  # noqa: BLE001 - reported as the plugin's fault
        raise ValueError(f"settings_type() must be constructible with defaults: {exc}") from exc
    return info


class PluginManager:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.pm = pluggy.PluginManager("axhub")
        self.pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] | None = None

    # -- discovery -------------------------------------------------------------------
    @property
    def records(self) -> dict[str, PluginRecord]:
        if self._records is None:
            self._records = {}
            self._load_entry_points()
        return self._records

    def _load_entry_points(self) -> None:
        allow, deny = self.config.plugins_allow, set(self.config.plugins_deny)
        for ep in sorted(importlib.metadata.entry_points(group="axhub"), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if allow is not None and ep.name not in allow:
                self._records[ep.name] = PluginRecord(ep.name, "disabled", dist, version, "not in AXHUB_PLUGINS")
                continue
            if ep.name in deny:
                self._records[ep.name] = PluginRecord(ep.name, "disabled", dist, version, "in AXHUB_DISABLE_PLUGINS")
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the hub down
                self._broken(ep.name, dist, version, exc)
                continue
            self._add(ep.name, module, dist, version)

    def register(self, module: ModuleType | object, name: str) -> PluginRecord:
        """Register a plugin object directly (tests, embedding)."""
        self.records  # discover first, so that this one wins over an entry point
        return self._add(name, module, None, getattr(module, "__version__", None))

    def _add(self, name: str, module: Any, dist: str | None, version: str | None) -> PluginRecord:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        try:
            self.pm.register(module, name=name)
            impl = self._impl(name, "provider_info")
            if impl is None:
                raise TypeError("the plugin implements no provider_info hook")
            info = validate_info(name, impl.function())
        except Exception as exc:  # noqa: BLE001
            if self.pm.get_plugin(name) is not None:
                self.pm.unregister(name=name)
            return self._broken(name, dist, version, exc)
        own = {h for h in HOOKS if self._impl(name, h) is not None}
        standard = frozenset(oauth_hooks.STANDARD) - own if info.oauth2 is not None else frozenset()
        hooks = tuple(h for h in HOOKS if h in own or h in standard)
        record = PluginRecord(name, "loaded", dist, version, None, info, hooks, standard)
        self._records[name] = record
        log.info("plugin %s %s loaded (%s)", name, version or "", ", ".join(hooks))
        return record

    def _broken(self, name: str, dist: str | None, version: str | None, exc: BaseException) -> PluginRecord:
        error = f"{type(exc).__name__}: {exc}"
        log.error("plugin %s is broken and was skipped: %s", name, error)
        record = PluginRecord(name, "broken", dist, version, error)
        self._records[name] = record
        return record

    def _impl(self, name: str, hook: str):
        caller = getattr(self.pm.hook, hook)
        return next((i for i in caller.get_hookimpls() if i.plugin_name == name), None)

    # -- queries ---------------------------------------------------------------------
    def loaded(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "loaded"]

    def implements(self, name: str, hook: str) -> bool:
        record = self.records.get(name)
        return bool(record and record.status == "loaded" and hook in record.hooks)


async def _call_impl(impl, kwargs: dict[str, Any]) -> Any:
    return await _call_function(impl.function, kwargs, impl.argnames)


async def _call_function(function: Callable[..., Any], kwargs: dict[str, Any],
                         argnames: Iterable[str] | None = None) -> Any:
    """Call with the keyword arguments it takes (pluggy's rule: a hook implementation may
    take fewer than the spec offers), awaiting it if it is a coroutine."""
    names = set(argnames if argnames is not None else inspect.signature(function).parameters)
    result = function(**{k: v for k, v in kwargs.items() if k in names})
    if inspect.isawaitable(result):
        result = await result
    return result


class Hub:
    """The typed facade over ``pm.hook``: per-provider calls are dispatched by slug,
    awaited in one place; ``notify`` is broadcast to every plugin with its own context."""

    def __init__(self, config: Config, plugins: PluginManager, sandbox_base: str | None = None,
                 recorder: CallRecorder | None = None) -> None:
        self.config = config
        self.plugins = plugins
        self.sandbox_base = sandbox_base
        self.recorder = recorder
        self._contexts: dict[str, ProviderContext] = {}
        self._http = None
        # Set by Services: the durable outbound queue each provider's ctx carries.
        self.deliveries_for: Callable[[str], Any] | None = None
        # And the sync requests (``ctx.syncs``).
        self.syncs_for: Callable[[str], Any] | None = None

    @property
    def http(self):
        if self._http is None:
            transport = MeteredTransport(self.recorder) if self.recorder is not None else None
            self._http = new_client(self.config.provider_timeout, transport)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._contexts.clear()

    def providers(self) -> list[ProviderInfo]:
        return [r.info for r in self.plugins.loaded() if r.info is not None]

    def provider(self, slug: str) -> ProviderInfo:
        record = self.plugins.records.get(slug)
        if record is None or record.status != "loaded" or record.info is None:
            state = f" ({record.status}: {record.error})" if record else ""
            raise ApiError("PROVIDER_NOT_SUPPORTED", f"provider {slug!r} is not available{state}", field="provider")
        return record.info

    def context(self, slug: str) -> ProviderContext:
        ctx = self._contexts.get(slug)
        if ctx is None:
            info = self.provider(slug)
            prefix = f"AXHUB_{slug.upper()}_"
            own = {k[len(prefix):]: v for k, v in self.config.env.items() if k.startswith(prefix)}
            sandbox = self.sandbox_base is not None and info.sandbox is not None
            client_id, client_secret = own.get("CLIENT_ID"), own.get("CLIENT_SECRET")
            if sandbox and info.sandbox_client and not (client_id and client_secret):
                client_id, client_secret = info.sandbox_client
            ctx = ProviderContext(
                info=info,
                sandbox=sandbox,
                client_id=client_id,
                client_secret=client_secret,
                endpoints=resolve_endpoints(info, sandbox_base=self.sandbox_base if sandbox else None, overrides=own),
                http=self.http,
                timeout=self.config.provider_timeout,
                _settings=own,
                guard=Guard.from_env(self.config.env),
                recorder=self.recorder,
                deliveries=self.deliveries_for(slug) if self.deliveries_for else None,
                syncs=self.syncs_for(slug) if self.syncs_for else None,
            )
            self._contexts[slug] = ctx
        return ctx

    def implements(self, slug: str, hook: str) -> bool:
        return self.plugins.implements(slug, hook)

    async def call(self, slug: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` of the plugin registered as ``slug`` only, and await it (``notify``
        too: a test notice is for one integration's plugin, not a broadcast)."""
        assert hook in PER_PROVIDER_HOOKS or hook == "notify", hook
        if not self.plugins.implements(slug, hook):
            raise NotImplementedError(f"provider {slug!r} does not implement {hook}")
        record = self.plugins.records[slug]
        impl = None if hook in record.standard else self.plugins._impl(slug, hook)
        connection = kwargs.get("connection")
        if connection is not None:
            attribute(slug, connection.org_id, connection.id)
        else:  # the caller said for whom (attribute()), or nobody yet
            who = metering.current.get()
            attribute(slug, who.org_id if who else None, who.integration_id if who else None)
        if impl is None:  # declared, not written: the core's standard OAuth hook
            return await _call_function(oauth_hooks.STANDARD[hook], {"ctx": self.context(slug), **kwargs})
        return await _call_impl(impl, {"ctx": self.context(slug), **kwargs})

    async def broadcast(self, hook: str, **kwargs: Any) -> dict[str, BaseException | Any]:
        """Call ``hook`` on every loaded plugin; one plugin's failure is logged and kept
        in the result, never stops the others."""
        results: dict[str, Any] = {}
        for record in self.plugins.loaded():
            if hook not in record.hooks:
                continue
            impl = self.plugins._impl(record.name, hook)
            notification = kwargs.get("notification")
            attribute(record.name, getattr(notification, "org_id", None))
            try:
                results[record.name] = await _call_impl(impl, {"ctx": self.context(record.name), **kwargs})
            except Exception as exc:  # noqa: BLE001
                log.exception("plugin %s failed in %s", record.name, hook)
                results[record.name] = exc
        return results

    def sandboxes(self) -> Iterable[tuple[str, Any]]:
        """(slug, app factory) of every loaded provider that ships a sandbox."""
        for info in self.providers():
            factory = info.sandbox
            if isinstance(factory, str):  # "module:function", imported on demand
                module, _, attr = factory.partition(":")
                factory = getattr(importlib.import_module(module), attr)
            if factory is not None:
                yield info.slug, factory
