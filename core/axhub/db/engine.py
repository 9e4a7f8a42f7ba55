"""The async engine and sessions, and Alembic migrations run from code."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

import msgspec
from sqlalchemy import JSON, Engine, Row, String, Table, Text, any_, bindparam, create_engine, event, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from ..config import private_file

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
IDLE_PING = 5.0  # seconds a pooled PostgreSQL connection may sit unused before a ping
COPY_FROM = 200  # rows; below this a COPY's extra round trips cost more than they save
READ_THREADS = 2  # SQLite: threads that run read(); more would only queue for the GIL
READ_CONNECTIONS = 8  # PostgreSQL: read()s at once, within the pool's 10 kept connections
_MISSING = object()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:" and not path.startswith("file:"):
                # The database (and its -wal/-shm files, which SQLite creates with the
                # database's mode) readable by the hub's user only.
                private_file(Path(path.split("?", 1)[0]))
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # random_page_cost: PostgreSQL's default (4) prices an index lookup for
            # spinning disks, and so plans a lookup of 100 links among 10,000 as two
            # whole-table scans and a hash join (6 ms, not 1). The hub's tables live in
            # memory or on SSD, where 1.1 is the usual setting.
            # No pool_pre_ping: asyncpg's ping is three round trips (BEGIN, a query,
            # ROLLBACK) on every checkout; _ping_if_idle pings only a connection that sat
            # idle long enough for the server to have gone away meanwhile.
            # LIFO: the connection just given back is the next one handed out, so the few
            # connections a quiet hub uses keep their prepared statements warm (asyncpg
            # prepares each statement once per connection) and the rest may idle out.
            kwargs.update(pool_size=10, max_overflow=20, pool_use_lifo=True,
                          connect_args={"server_settings": {"random_page_cost": "1.1"}})
        # msgspec encodes the JSON columns (attendees, settings, run statistics) several
        # times faster than the json module: a tenth of a 10,000-event import's CPU.
        kwargs.update(json_serializer=_json_text, json_deserializer=msgspec.json.decode)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine, "checkin", _idle_from)
            event.listen(self.engine.sync_engine, "checkout", _ping_if_idle)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        # Every statement its own transaction, no BEGIN and COMMIT round trips: for work
        # that only reads (at READ COMMITTED each statement has its own snapshot anyway)
        # and for a write that is one statement (atomic by itself). Never for a write of
        # several statements that must hold together: that is what session() is for.
        self._autocommitting = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reader: AsyncEngine | None = None
        self._sync_reader: Engine | None = None
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        if self.is_sqlite and ":memory:" not in url and "mode=memory" not in url:
            # On SQLite the isolation level is set on the driver's connection, through
            # aiosqlite's thread: an execution option would set it at each checkout and
            # set it back at each checkin, two thread hops per use on every read. A pool
            # of its own, autocommitting from the start, spares both. (An in-memory
            # database is one per connection: it keeps the option.) Nor is a connection
            # rolled back as it is closed or goes back to the pool (another hop each): it
            # never holds a transaction.
            self._reader = create_async_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                                               skip_autocommit_rollback=True, **kwargs)
            event.listen(self._reader.sync_engine, "connect", _sqlite_pragmas)
            self._autocommitting = self._reader
            # read(): pysqlite itself on a thread of its own, the whole statement (run,
            # fetch, rows built) in one hop; aiosqlite takes four (cursor, execute, fetch,
            # close), and under load each waits its turn for the GIL.
            self._sync_reader = create_engine(
                url.replace("sqlite+aiosqlite:", "sqlite:", 1), isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                skip_autocommit_rollback=True, json_serializer=_json_text, json_deserializer=msgspec.json.decode,
                connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(self._sync_reader, "connect", _sqlite_pragmas)
            self._read_thread = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="axhub-read")
        self.autocommit = async_sessionmaker(self._autocommitting, expire_on_commit=False)

    async def read(self, statement: Any, params: dict[str, Any] | None = None) -> list[Row]:
        """The rows of one statement that only reads, on a connection of its own in
        autocommit mode: the hot reads of the API (the integrations list)."""
        if self._sync_reader is None:
            # At most READ_CONNECTIONS at once, the rest waiting their turn here: many
            # requests at once would otherwise take the pool's overflow connections,
            # which are closed as they come back — a PostgreSQL backend started, and
            # every statement prepared and planned again, for each.
            async with self._read_turns(), self.connect() as c:
                return list((await c.execute(statement, params or {})).all())
        return await asyncio.get_running_loop().run_in_executor(self._read_thread, self._read, statement, params or {})

    def _read_turns(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Semaphore(READ_CONNECTIONS))
        return self._turns[1]

    def _read(self, statement: Any, params: dict[str, Any]) -> list[Row]:
        assert self._sync_reader is not None
        with self._sync_reader.connect() as c:
            return list(c.execute(statement, params).all())

    def connect(self) -> AsyncConnection:
        """A Core connection in autocommit mode (``async with db.connect() as c``): what
        :attr:`autocommit` is for, when rows will do instead of ORM objects. No session,
        no unit of work, no identity map: a quarter to a third less CPU per statement,
        which counts on the paths every sync run and status poll takes."""
        return self._autocommitting.connect()

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

    def among(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN values``. On PostgreSQL one array parameter (``= ANY($1)``), not a
        parameter per value: the statement's text, and so its prepared form and plan,
        stays the same whatever the number of values."""
        if self.is_sqlite:
            return column.in_(values)
        # Strings as text[], never varchar[]: asyncpg knows text[] but looks varchar[] up
        # in the catalogue once per connection (a recursive query, 10 to 50 ms).
        item = Text() if isinstance(column.type, String) else column.type
        return column == any_(bindparam(None, list(values), type_=ARRAY(item)))

    def insert_ignoring(self, table: Any) -> Any:
        """An ``INSERT … ON CONFLICT DO NOTHING`` into ``table`` (a model or a Table) on
        either backend: the way to create a row that a concurrent transaction may be
        creating too (two delivery lanes, two processes) without a unique-key error."""
        from sqlalchemy.dialects import postgresql, sqlite

        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table).on_conflict_do_nothing()

    async def insert_many(self, session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table`` within the session's
        transaction. A few hundred rows or more go straight to the driver: on PostgreSQL
        through ``COPY`` (no SQL to plan and no parameters to bind per row, a third less
        time than a multi-row INSERT for a 10,000-event import), on SQLite as one
        ``executemany`` of values already bound (SQLAlchemy's own executemany builds a
        parameter dict per row: a sixth of a 10,000-event import's time there). Values
        pass through the columns' own bind processing (UTC datetimes, JSON), as an
        INSERT would."""
        if not rows:
            return
        if len(rows) < COPY_FROM:
            await session.execute(insert(table), rows)
            return
        columns = list(rows[0])
        records = self._bound(table, columns, rows)
        raw = await _driver(session)
        if self.is_sqlite:
            names = ", ".join(f'"{c}"' for c in columns)
            await raw.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})', records)
        else:
            await raw.copy_records_to_table(table.name, records=records, columns=columns)

    def _bound(self, table: Table, columns: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
        """``rows`` as lists of values in ``columns`` order, through the columns' bind
        processors. A value that repeats down a column (the run's timestamp on every
        row, a flag) is processed once."""
        dialect = self.engine.dialect
        records = [[row[name] for name in columns] for row in rows]
        for i, name in enumerate(columns):
            kind = table.c[name].type
            process = kind._cached_bind_processor(dialect)
            if process is None:
                continue
            if isinstance(kind, JSON):  # lists and dicts: not hashable, nothing to remember
                for record in records:
                    record[i] = process(record[i])
                continue
            seen: dict[Any, Any] = {}
            for record in records:
                value = record[i]
                done = seen.get(value, _MISSING)
                if done is _MISSING:
                    done = seen[value] = process(value)
                record[i] = done
        return records

    async def update_many(self, session: AsyncSession | AsyncConnection, *groups: tuple[Table, Sequence[str], list[dict[str, Any]]]) -> None:
        """Update rows within the session's transaction; each group is ``(table, keys,
        rows)``, the rows dicts with the same keys: the ``keys`` columns naming each row,
        the others its new values. On PostgreSQL one statement for every group
        (``UPDATE … FROM unnest(arrays)``, further groups as ``WITH`` clauses), not a
        statement per row: one round trip and one plan for any number of rows."""
        groups = tuple(g for g in groups if g[2])
        if not groups:
            return
        if self.is_sqlite:  # a statement per table, its rows bound here and handed to the driver at once
            raw = await _driver(session)
            for table, keys, rows in groups:
                values = [c for c in rows[0] if c not in keys]
                assign = ", ".join(f'"{c}" = ?' for c in values)
                match = " AND ".join(f'"{k}" = ?' for k in keys)
                await raw.executemany(f'UPDATE "{table.name}" SET {assign} WHERE {match}',
                                      self._bound(table, [*values, *keys], rows))
            return
        dialect = self.engine.dialect
        arrays: list[list[str | None]] = []
        statements = []
        for table, keys, rows in groups:
            columns = list(rows[0])
            for name in columns:
                kind = table.c[name].type
                process = kind._cached_bind_processor(dialect)
                values = [row[name] for row in rows]
                if process is not None:
                    values = list(map(process, values))
                if process is not None or not isinstance(kind, String):  # strings travel as they are
                    values = list(map(_as_text, values))
                arrays.append(values)
            # Every column travels as text[] and is cast back in the statement: text[] is
            # the one array type asyncpg knows without asking the server (for any other,
            # once per connection, a recursive catalogue query of 15 ms).
            first = len(arrays) - len(columns) + 1
            source = ", ".join(f"${i}::text[]" for i in range(first, len(arrays) + 1))
            kinds = {c: table.c[c].type.compile(dialect=dialect) for c in columns}
            assign = ", ".join(f'"{c}" = v."{c}"::{kinds[c]}' for c in columns if c not in keys)
            match = " AND ".join(f't."{k}" = v."{k}"::{kinds[k]}' for k in keys)
            names = ", ".join(f'"{c}"' for c in columns)
            statements.append(f'UPDATE "{table.name}" AS t SET {assign} FROM unnest({source}) AS v({names}) WHERE {match}')
        *before, last = statements
        sql = (f"WITH {', '.join(f'u{i} AS ({q})' for i, q in enumerate(before))} {last}") if before else last
        raw = await _driver(session)
        await raw.execute(sql, *arrays)

    async def update_many_alone(self, *groups: tuple[Table, Sequence[str], list[dict[str, Any]]]) -> None:
        """:meth:`update_many` as a transaction of its own. On PostgreSQL that is one
        statement, atomic by itself: sent without BEGIN and COMMIT, two round trips fewer."""
        if self.is_sqlite:  # a statement per table there: they must commit together
            async with self.session() as s, s.begin():
                await self.update_many(s, *groups)
            return
        async with self.connect() as c:
            await self.update_many(c, *groups)

    async def dispose(self) -> None:
        if self._sync_reader is not None:
            self._read_thread.shutdown(wait=True)
            self._sync_reader.dispose()
        if self._reader is not None:
            await self._reader.dispose()
        await self.engine.dispose()


async def _driver(bind: AsyncSession | AsyncConnection) -> Any:
    """The driver's own connection (asyncpg, aiosqlite) under a session's transaction
    or a Core connection.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, just before its own first
    statement: a statement sent to the driver before any other would run outside the
    transaction, committed at once, and a crash before the transaction's COMMIT would
    leave it alone (a run's statistics without the links they count). So the
    transaction is begun here first. (sqlite3 begins one itself before any write.)"""
    connection = bind if isinstance(bind, AsyncConnection) else await bind.connection()
    raw = await connection.get_raw_connection()
    adapted = raw.dbapi_connection
    if connection.in_transaction() and getattr(adapted, "_transaction", False) is None:
        await adapted._start_transaction()
    return raw.driver_connection


def _as_text(value: Any) -> str | None:
    """A bound value as PostgreSQL reads it from text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)  # numbers; booleans as True/False, which PostgreSQL reads too


def _json_text(value) -> str:
    return msgspec.json.encode(value).decode()


def _idle_from(_dbapi_conn, record) -> None:
    if record is not None:
        record.info["idle_from"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    """Check a pooled connection idle for more than IDLE_PING seconds before handing it
    out; a dead one is replaced (the pool retries on DisconnectionError). A connection
    just opened, or back from work a moment ago, is used as it is: should the server
    have restarted within those seconds, the one statement that finds out fails and the
    pool drops every connection older than that."""
    idle_from = record.info.get("idle_from")
    if idle_from is None or time.monotonic() - idle_from < IDLE_PING:
        return
    try:
        dbapi_conn.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: not usable
        raise DisconnectionError(str(exc)) from exc


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
