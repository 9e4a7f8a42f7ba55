"""The running hub's parts, built once per app: database, plugins, vault."""

from __future__ import annotations

import dataclasses

from .config import Config
from .db import Database
from .plugins import Hub, PluginManager
from .signals import Signals
from .tasks import TaskSet
from .vault import Cipher, Vault


@dataclasses.dataclass
class Services:
    config: Config
    db: Database
    plugins: PluginManager
    hub: Hub
    cipher: Cipher
    vault: Vault
    signals: Signals
    tasks: TaskSet

    @classmethod
    def build(cls, config: Config, plugins: PluginManager | None = None) -> "Services":
        db = Database(config.database_url)
        plugins = plugins or PluginManager(config)
        sandbox_base = None
        if config.sandbox:
            sandbox_base = config.sandbox_url or f"{config.public_url}/sandbox"
        hub = Hub(config, plugins, sandbox_base)
        cipher = Cipher(config.vault_keys)
        tasks = TaskSet()
        return cls(config, db, plugins, hub, cipher, Vault(db, cipher, config.refresh_margin), Signals(hub, tasks), tasks)

    async def aclose(self) -> None:
        await self.tasks.drain()
        await self.hub.aclose()
        await self.db.dispose()
