"""Configuration, read once from the environment (``AXHUB_*``); see docs/operations.md."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _secret_file(path: Path, make) -> str:
    """Read a secret kept in the data folder, creating it (mode 0600) on first start."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
    return path.read_text().strip()


@dataclasses.dataclass
class Config:
    data_dir: Path
    database_url: str
    jwt_secret: str
    vault_keys: tuple[str, ...]
    public_url: str = "http://127.0.0.1:8000"
    sandbox: bool = False
    # Base URL of sandboxes served elsewhere (`axhub sandbox`); None = mounted in-process.
    sandbox_url: str | None = None
    plugins_allow: tuple[str, ...] | None = None
    plugins_deny: tuple[str, ...] = ()
    auto_migrate: bool = True
    state_ttl: int = 600
    refresh_margin: int = 300
    provider_timeout: float = 20.0
    sync_lock_seconds: int = 60
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("AXHUB_DATA_DIR") or "./axhub-data").resolve()
        database_url = env.get("AXHUB_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'axhub.db'}"
        jwt_secret = env.get("AXHUB_JWT_SECRET") or _secret_file(
            data_dir / "jwt.secret", lambda: secrets.token_urlsafe(48)
        )
        keys = _list(env.get("AXHUB_VAULT_KEYS"))
        if not keys:
            from cryptography.fernet import Fernet

            keys = (_secret_file(data_dir / "vault.key", lambda: Fernet.generate_key().decode()),)
        cfg = cls(
            data_dir=data_dir,
            database_url=normalise_database_url(database_url),
            jwt_secret=jwt_secret,
            vault_keys=keys,
            public_url=(env.get("AXHUB_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            sandbox=_bool(env.get("AXHUB_SANDBOX"), False),
            sandbox_url=(env.get("AXHUB_SANDBOX_URL") or "").rstrip("/") or None,
            plugins_allow=_list(env.get("AXHUB_PLUGINS")),
            plugins_deny=_list(env.get("AXHUB_DISABLE_PLUGINS")) or (),
            auto_migrate=_bool(env.get("AXHUB_AUTO_MIGRATE"), True),
            state_ttl=int(env.get("AXHUB_OAUTH_STATE_TTL") or 600),
            refresh_margin=int(env.get("AXHUB_REFRESH_MARGIN") or 300),
            provider_timeout=float(env.get("AXHUB_PROVIDER_TIMEOUT") or 20.0),
            sync_lock_seconds=int(env.get("AXHUB_SYNC_LOCK_SECONDS") or 60),
            env=env,
        )
        for key, value in overrides.items():
            setattr(cfg, key, value)
        return cfg

    def provider_setting(self, slug: str, name: str) -> str | None:
        """``AXHUB_<SLUG>_<NAME>``, e.g. ``AXHUB_GOOGLE_CLIENT_ID``."""
        return self.env.get(f"AXHUB_{slug.upper()}_{name.upper()}") or None


def normalise_database_url(url: str) -> str:
    """Accept the URLs operators paste (``postgresql://``) and pick the async driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url
