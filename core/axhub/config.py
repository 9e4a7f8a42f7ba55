"""Configuration, read once from the environment (``AXHUB_*``); see docs/operations.md.

``axhub serve`` also records in the data folder which providers it serves with
(``serving.json``: sandbox or real, and where the sandboxes answer), so that every other
command on that data folder — ``axhub sync``, ``axhub jobs``, ``axhub worker`` — uses the
same providers instead of calling a real one by surprise. ``AXHUB_SANDBOX`` set in the
environment still decides for the process that sets it."""

from __future__ import annotations

import dataclasses
import json
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


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only (0700): it holds the database, the
    keys and the logs. A folder that exists already is left as the operator made it."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is masked by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (then whoever writes
    it, e.g. SQLite, keeps that mode)."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def _secret_file(path: Path, make) -> str:
    """Read a secret kept in the data folder, creating it (mode 0600) on first start."""
    if path.exists():
        return path.read_text().strip()
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
    return path.read_text().strip()


SERVING = "serving.json"


def record_serving(config: "Config") -> Path:
    """Write what the serving hub runs with (``serving.json``, 0600): its public URL,
    sandbox mode and the sandboxes' base URL. Written whole then renamed, so a reader
    never sees half of it."""
    path = config.data_dir / SERVING
    body = {"publicUrl": config.public_url, "sandbox": config.sandbox,
            "sandboxUrl": (config.sandbox_url or f"{config.public_url}/sandbox") if config.sandbox else None}
    tmp = private_file(path.with_suffix(f".{os.getpid()}.tmp"))  # several hubs may start on one folder at once
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_serving(data_dir: Path) -> dict | None:
    """What ``record_serving`` wrote in ``data_dir``, or None (never served, or unreadable)."""
    try:
        body = json.loads((data_dir / SERVING).read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


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
    # Bounds of an integration's syncInterval (seconds): the minimum protects providers'
    # quotas; tests lower it to run several intervals in seconds.
    sync_interval_min: int = 60
    sync_interval_max: int = 86400
    # "auto": APScheduler's SQLAlchemy data store (shared by every process) on PostgreSQL,
    # its in-memory store on SQLite; "memory" or "database" to choose; see docs/operations.md.
    scheduler_store: str = "auto"
    # Whether this process runs scheduled jobs (schedules are kept up to date either way).
    scheduler_run: bool = True
    # Hub-level notification defaults; an organisation's own attendance threshold
    # (PUT /api/organization/settings) overrides this one.
    attendance_alert_threshold: float = 0.5
    reminder_minutes: tuple[int, ...] = (15,)
    # `axhub serve`'s line per request (axhub.access); the failure lines stay.
    access_log: bool = True
    # Push (docs/push.md): "auto" subscribes where a usable address exists, "0" never.
    push: str = "auto"
    # With push healthy, the slow poll that still catches a lost notification (seconds).
    push_safety_poll: int = 6 * 3600
    # The lifetime asked for a subscription, and how long before its expiry it is renewed.
    push_ttl: int = 7 * 86400
    push_renew_margin: int = 6 * 3600
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    # Where the sandbox setting came from: "environment", "serving.json" (what the serving
    # hub recorded) or "default" (real providers); `axhub doctor` says which.
    sandbox_source: str = "default"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, recorded: bool = True, **overrides) -> "Config":
        """``recorded``: follow the serving hub's ``serving.json`` where the environment
        does not set ``AXHUB_SANDBOX`` (``axhub serve`` itself passes False: it records)."""
        env = dict(os.environ if env is None else env)
        data_dir = private_dir(Path(env.get("AXHUB_DATA_DIR") or "./axhub-data").resolve())
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
            sync_interval_min=int(env.get("AXHUB_SYNC_INTERVAL_MIN") or 60),
            sync_interval_max=int(env.get("AXHUB_SYNC_INTERVAL_MAX") or 86400),
            scheduler_store=(env.get("AXHUB_SCHEDULER_STORE") or "auto").strip().lower(),
            scheduler_run=_bool(env.get("AXHUB_SCHEDULER"), True),
            attendance_alert_threshold=float(env.get("AXHUB_ATTENDANCE_ALERT_THRESHOLD") or 0.5),
            reminder_minutes=tuple(int(x) for x in (_list(env.get("AXHUB_REMINDER_MINUTES")) or ("15",))),
            access_log=_bool(env.get("AXHUB_ACCESS_LOG"), True),
            push=(env.get("AXHUB_PUSH") or "auto").strip().lower(),
            push_safety_poll=int(float(env.get("AXHUB_PUSH_SAFETY_POLL_HOURS") or 6) * 3600),
            push_ttl=int(env.get("AXHUB_PUSH_TTL") or 7 * 86400),
            push_renew_margin=int(env.get("AXHUB_PUSH_RENEW_MARGIN") or 6 * 3600),
            env=env,
        )
        if env.get("AXHUB_SANDBOX"):
            cfg.sandbox_source = "environment"
        elif recorded and (serving := read_serving(data_dir)) is not None and serving.get("sandbox"):
            # The hub serving this data folder runs its providers' sandboxes: so does this process.
            cfg.sandbox = True
            cfg.sandbox_url = cfg.sandbox_url or (str(serving.get("sandboxUrl") or "").rstrip("/") or None)
            if not env.get("AXHUB_PUBLIC_URL") and serving.get("publicUrl"):
                cfg.public_url = str(serving["publicUrl"]).rstrip("/")
            cfg.sandbox_source = SERVING
        for key, value in overrides.items():
            setattr(cfg, key, value)
        return cfg

    def push_address(self) -> tuple[str | None, str]:
        """The base of the address providers push to (``…/hooks/{slug}`` under it), or
        None and why not. A provider reaches only a public https address the operator
        names (``AXHUB_PUBLIC_URL``); in sandbox mode the sandboxes, in this process or
        on this machine, reach the hub over loopback, so http there is enough."""
        if self.push in ("0", "false", "no", "off"):
            return None, "push is turned off (AXHUB_PUSH=0)"
        named = (self.env.get("AXHUB_PUBLIC_URL") or "").strip().rstrip("/")
        if not named and self.sandbox:
            named = self.public_url  # `serve --sandbox` on loopback: the sandboxes reach it there
        if not named:
            return None, "AXHUB_PUBLIC_URL is not set, so providers have no address to notify"
        scheme, _, rest = named.partition("://")
        host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
        if scheme.lower() == "https" or (self.sandbox and host in ("127.0.0.1", "localhost", "::1")):
            return named, ""
        return None, "AXHUB_PUBLIC_URL is not an https address (providers push only to https)"

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
