"""The async engine and sessions, and Alembic migrations run from code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
COPY_FROM = 200  # rows; below this a COPY's extra round trips cost more than they save


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        # msgspec encodes the JSON columns (attendees, settings, run statistics) several
        # times faster than the json module: a tenth of a 10,000-event import's CPU.
        kwargs.update(json_serializer=_json_text, json_deserializer=msgspec.json.decode)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def upgrade(self, revision: str = "head") -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)

    async def settle(self, tables: tuple[str, ...] = ()) -> None:
        """Tidy up after a bulk write, off the request path. SQLite: fold the write-ahead
        log back into the database (otherwise the commit that crosses the WAL's size
        threshold pays for it: tens of milliseconds after a bulk import). PostgreSQL:
        ANALYZE the ``tables`` written in bulk, so that the next queries are planned
        with their real size — autovacuum gets there within a minute, and until then a
        lookup of 100 links among 10,000 fresh ones is planned as a scan (30 ms, not 5)."""
        from sqlalchemy import text

        if self.is_sqlite:
            async with self.engine.connect() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
        elif tables:
            # ANALYZE is transactional: its figures count once committed.
            async with self.engine.begin() as conn:
                await conn.execute(text(f"ANALYZE {', '.join(tables)}"))

    def insert_ignoring(self, table: Any) -> Any:
        """An ``INSERT … ON CONFLICT DO NOTHING`` into ``table`` (a model or a Table) on
        either backend: the way to create a row that a concurrent transaction may be
        creating too (two delivery lanes, two processes) without a unique-key error."""
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table).on_conflict_do_nothing()

    async def insert_many(self, session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table`` within the session's
        transaction. On PostgreSQL, a few hundred rows or more go through ``COPY``: no SQL
        to plan and no parameters to bind per row, a third less time than a multi-row
        INSERT for a 10,000-event import. Values pass through the columns' own bind
        processing (UTC datetimes, JSON), as an INSERT would."""
        if not rows:
            return
        if self.is_sqlite or len(rows) < COPY_FROM:
            await session.execute(insert(table), rows)
            return
        columns = list(rows[0])
        dialect = self.engine.dialect
        processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
        convert = [(i, p) for i, p in enumerate(processors) if p is not None]
        records = []
        for row in rows:
            record = [row[name] for name in columns]
            for i, process in convert:
                record[i] = process(record[i])
            records.append(record)
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(table.name, records=records, columns=columns)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _json_text(value) -> str:
    return msgspec.json.encode(value).decode()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL keeps the database consistent through crashes and skips an fsync
    # per commit; a power cut may lose the last commits, which a sync simply redoes.
    cur.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints run in the background after sync runs (Database.settle); the
    # automatic one, paid by whichever commit crosses the threshold, only as a backstop.
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(connection=None):
    from alembic.config import Config as AlembicConfig

    import logging

    # Alembic's INFO lines ("Context impl", "Running upgrade") are noise at every start.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
