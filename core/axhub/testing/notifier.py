"""A notifying plugin for tests: it keeps every notification the core hands to the
notifying plugins, so a test reads what was notified (its kind, its data) without a
chat provider or its sandbox."""

from __future__ import annotations

from typing import Any

import pluggy

from ..types import Notification, ProviderInfo

_hookimpl = pluggy.HookimplMarker("axhub")


class NotificationRecorder:
    """``NotificationRecorder().attach(hub)`` registers it with a running
    :class:`~axhub.testing.HubServer`; ``heard`` is every notification since, in order."""

    def __init__(self, slug: str = "channel") -> None:
        self.slug = slug
        self.heard: list[Notification] = []

    @_hookimpl
    def provider_info(self) -> ProviderInfo:
        """A communication provider of its own slug (no OAuth, no settings)."""
        return ProviderInfo(slug=self.slug, name=self.slug.capitalize(), type="communication",
                            description="records the notifications it is given (tests)")

    @_hookimpl
    async def notify(self, notification: Notification) -> None:
        """Keep it."""
        self.heard.append(notification)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The data of each notification of ``kind`` heard so far, in order."""
        return [n.data for n in self.heard if n.kind == kind]

    def attach(self, hub: Any) -> "NotificationRecorder":
        """Register with ``hub`` (a started HubServer) as the plugin ``slug``; itself."""
        hub.services.plugins.register(self, self.slug)
        return self
