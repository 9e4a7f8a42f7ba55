"""The credential vault: provider grants encrypted at rest, refreshed once.

Grants are msgspec-encoded and sealed with Fernet (AES-128-CBC + HMAC-SHA256).
``AXHUB_VAULT_KEYS`` lists keys newest first: the first encrypts, all decrypt, and
``axhub vault rotate`` re-seals every row with the first.

Secret settings (a plugin names them in ``ProviderInfo.secret_settings``, e.g. the
values of custom webhook headers) are sealed with the same keys inside the settings
column (``vault:<token>``), opened only for the plugin's ``Connection`` and shown to
clients as :data:`MASK`; a settings update that sends the mask back keeps the value.

Refresh happens ahead of expiry (``AXHUB_REFRESH_MARGIN``). Many coroutines of one
process queue on an asyncio lock; several processes race for a lease on the row with a
compare-and-swap on ``version``, so the provider sees exactly one refresh call, and the
others read the new grant once its version moves.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import bindparam, select, update

from .db import Credential, Database, Integration, PushSubscription
from .errors import InvalidCredentials, ProviderError
from .oplog import failure
from .types import Credentials

log = logging.getLogger("axhub.vault")

LEASE_SECONDS = 30
# Every provider call reads its grant: the statement is built once.
_READ = select(Credential.__table__).where(Credential.__table__.c.integration_id == bindparam("integration"))


class Cipher:
    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise RuntimeError("a vault entry cannot be decrypted with any configured key (AXHUB_VAULT_KEYS)") from None

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)

    def seal_credentials(self, creds: Credentials) -> bytes:
        return self.seal(msgspec.json.encode(creds))

    def open_credentials(self, token: bytes) -> Credentials:
        return msgspec.json.decode(self.open(token), type=Credentials)


SEALED = "vault:"  # prefix of a sealed value inside an integration's settings
MASK = "********"  # what a client sees of a secret setting, and sends back to keep it
_SEALED_BYTES = SEALED.encode()


def _each_secret(data: Any, patterns: tuple[str, ...], fn: Callable[[str, Any], Any]) -> Any:
    """``data`` with every value at a pattern's path (dotted keys, ``*`` for any key)
    replaced by ``fn(path, value)``."""
    def walk(node: Any, segments: list[str], path: str) -> Any:
        if not segments:
            return fn(path, node)
        if not isinstance(node, dict):
            return node
        head, *rest = segments
        return {k: walk(v, rest, f"{path}.{k}" if path else k) if head in ("*", k) else v for k, v in node.items()}

    for pattern in patterns:
        data = walk(data, pattern.split("."), "")
    return data


def _at(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def seal_settings(cipher: "Cipher", data: dict, patterns: tuple[str, ...]) -> dict:
    """Settings as stored: each secret value sealed."""
    def seal(_path: str, value: Any) -> Any:
        if not isinstance(value, str) or value.startswith(SEALED):
            return value
        return SEALED + cipher.seal(value.encode()).decode()
    return _each_secret(data, patterns, seal)


def open_settings(cipher: "Cipher", data: dict, patterns: tuple[str, ...]) -> dict:
    """Stored settings with each secret value in clear (for the plugin, never a client)."""
    def open_(_path: str, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SEALED):
            return cipher.open(value[len(SEALED):].encode()).decode()
        return value
    return _each_secret(data, patterns, open_)


def mask_settings(data: dict, patterns: tuple[str, ...]) -> dict:
    """Settings as a client sees them: the names of secret values, not the values (and
    no sealed value, even of a plugin that is not loaded now)."""
    def sealed(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: sealed(v) for k, v in node.items()}
        return MASK if isinstance(node, str) and node.startswith(SEALED) else node
    masked = _each_secret(data, patterns, lambda _path, value: MASK if isinstance(value, str) else value)
    # The walk for stray sealed values only where one may be: encoding the settings (in C)
    # is a tenth of the walk's cost, which every integration in every list pays.
    return sealed(masked) if _SEALED_BYTES in msgspec.json.encode(masked) else masked


def unmask_settings(data: dict, stored: dict, patterns: tuple[str, ...]) -> tuple[dict, list[str]]:
    """New settings with each masked value replaced by the stored one at the same path;
    also the paths of masks that have no stored value to stand for."""
    orphans: list[str] = []

    def keep(path: str, value: Any) -> Any:
        if value != MASK:
            return value
        kept = _at(stored, path)
        if kept is None:
            orphans.append(path)
        return kept if kept is not None else value
    return _each_secret(data, patterns, keep), orphans


def _rotate_sealed(cipher: "Cipher", node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _rotate_sealed(cipher, v) for k, v in node.items()}
    if isinstance(node, str) and node.startswith(SEALED):
        try:
            return SEALED + cipher.rotate(node[len(SEALED):].encode()).decode()
        except InvalidToken:  # a setting that only looks sealed
            return node
    return node


# Said in sandbox mode, where a grant dies most often because the sandbox forgot it.
SANDBOX_LOST = ("the sandbox no longer knows it (its state was reset or its tokens revoked through /_control, "
                "or the data folder's sandboxes/ files are gone)")


def dead_grant(reason: str, sandbox: bool) -> str:
    """An integration's error once its grant is dead: the provider's reason and what to do."""
    return f"{reason}; " + (f"{SANDBOX_LOST}; " if sandbox else "") + "reconnect the integration"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Vault:
    def __init__(self, db: Database, cipher: Cipher, margin: int, *, sandbox: bool = False) -> None:
        self.db = db
        self.cipher = cipher
        self.margin = timedelta(seconds=margin)
        self.sandbox = sandbox  # providers are the sandboxes: a dead grant is most often lost sandbox state
        self.owner = f"{secrets.token_hex(6)}"
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def row(self, integration_id: str, creds: Credentials) -> Credential:
        return Credential(
            integration_id=integration_id,
            ciphertext=self.cipher.seal_credentials(creds),
            version=1,
            expires_at=creds.expires_at,
            updated_at=_now(),
        )

    async def _read(self, integration_id: str) -> Any:  # a row of credentials, or None
        async with self.db.connect() as c:  # a row (not an ORM object): all a read needs
            return (await c.execute(_READ, {"integration": integration_id})).first()

    def _due(self, row: Credential) -> bool:
        return row.expires_at is not None and row.expires_at - self.margin <= _now()

    async def get(
        self, integration_id: str, refresh: Callable[[Credentials], Awaitable[Credentials]]
    ) -> Credentials:
        """The integration's grant, refreshed first if it is due."""
        row = await self._read(integration_id)
        if row is None:
            raise InvalidCredentials("the integration holds no credentials; reconnect", reason="no_credentials")
        if not self._due(row):
            return self.cipher.open_credentials(row.ciphertext)
        async with self._locks[integration_id]:
            return await self._refresh(integration_id, refresh)

    async def _refresh(self, integration_id: str, refresh: Callable[[Credentials], Awaitable[Credentials]]) -> Credentials:
        deadline = _now() + timedelta(seconds=LEASE_SECONDS + 10)
        delay = 0.02
        while True:
            row = await self._read(integration_id)
            if row is None:
                raise InvalidCredentials("the integration holds no credentials; reconnect", reason="no_credentials")
            current = self.cipher.open_credentials(row.ciphertext)
            if not self._due(row):
                return current
            if await self._take_lease(row):
                break
            if _now() > deadline:
                raise ProviderError("waited too long for another process to refresh the credentials", reason="refresh_timeout")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

        try:
            fresh = await refresh(current)
        except InvalidCredentials as exc:
            await self._release(row)
            await self._mark_dead(integration_id, exc)
            failure("refresh_failed", integration=integration_id, code=exc.code, outcome="grant dead: reconnect",
                    error=exc.message)
            raise
        except BaseException as exc:
            await self._release(row)
            still_valid = row.expires_at is not None and row.expires_at > _now()
            if isinstance(exc, Exception):  # not a cancellation
                failure("refresh_failed", integration=integration_id, code=getattr(exc, "code", None) or "INTERNAL_ERROR",
                        outcome="the still-valid token is used" if still_valid else "the call fails",
                        error=getattr(exc, "message", None) or type(exc).__name__)
            # A failed refresh of a token that still works is no reason to fail the call.
            if still_valid:
                return current
            raise
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(Credential)
                .where(Credential.integration_id == integration_id, Credential.lease_owner == self.owner)
                .values(
                    ciphertext=self.cipher.seal_credentials(fresh),
                    version=row.version + 1,
                    expires_at=fresh.expires_at,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=_now(),
                )
            )
        log.info("refreshed credentials of %s", integration_id)
        return fresh

    async def _take_lease(self, row: Credential) -> bool:
        now = _now()
        async with self.db.session() as s, s.begin():
            result = await s.execute(
                update(Credential)
                .where(
                    Credential.integration_id == row.integration_id,
                    Credential.version == row.version,
                    (Credential.lease_until.is_(None)) | (Credential.lease_until < now),
                )
                .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
            )
            return result.rowcount == 1

    async def _release(self, row: Credential) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(Credential)
                .where(Credential.integration_id == row.integration_id, Credential.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def _mark_dead(self, integration_id: str, exc: ProviderError) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(Integration)
                .where(Integration.id == integration_id)
                .values(
                    status="error",
                    last_error="INVALID_CREDENTIALS",
                    last_error_message=dead_grant(f"the provider refused the stored grant ({exc.reason or exc.message})",
                                                  self.sandbox),
                    last_error_at=_now(),
                    updated_at=_now(),
                )
            )

    async def forget(self, session, integration_id: str) -> None:
        row = await session.get(Credential, integration_id)
        if row is not None:
            await session.delete(row)

    async def rotate_all(self) -> int:
        """Re-seal every entry with the first key; returns how many were re-sealed."""
        count = 0
        async with self.db.session() as s, s.begin():
            rows = (await s.execute(select(Credential))).scalars().all()
            for row in rows:
                row.ciphertext = self.cipher.rotate(row.ciphertext)
                count += 1
            for row in (await s.execute(select(Integration))).scalars().all():
                rotated = _rotate_sealed(self.cipher, row.settings)
                if rotated != row.settings:
                    row.settings = rotated
                    count += 1
            # Push channels' tokens (docs/push.md): opened on every notification, so a
            # retired key must have sealed none of them.
            for sub in (await s.execute(select(PushSubscription))).scalars().all():
                sub.secret = self.cipher.rotate(sub.secret)
                count += 1
        return count

