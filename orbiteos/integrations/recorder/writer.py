"""The recorder's one database connection: applies schema.sql, writes batches with COPY.

Each batch is one transaction: a receipt row in `recorder_batches` (the batch id) and then one
COPY per table. A batch whose receipt is already there was committed before (the connection
dropped after the commit but before the answer came back) and is skipped: replays never duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import asyncpg

from orbiteos.integrations.recorder import copy_binary, migrations
from orbiteos.integrations.recorder.rows import COLUMNS, Batch, Columns, Row
from orbiteos.integrations.recorder.slicing import SLICE, pause

_LOGGER = logging.getLogger(__name__)

SCHEMA_FILE = Path(__file__).with_name("schema.sql")  # a link to the repository's schema.sql
# During a COPY the clock is read every _CHECK_EVERY rows (about 20 µs of encoding).
_CHECK_EVERY = 8
# The states rows go out in COPY data messages of about this size (a join and a socket write each).
_SEND_BYTES = 64 * 1024


class SchemaMismatch(Exception):
    """The `states` table's columns are not of the types the recorder encodes for."""


def schema_sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


def is_data_error(err: BaseException) -> bool:
    """The rows themselves were refused (a value asyncpg cannot encode, or the server's data or
    constraint error): retrying will not help."""
    if isinstance(err, TypeError | ValueError | OverflowError):  # asyncpg could not encode a value
        return True
    sqlstate = getattr(err, "sqlstate", None) or ""
    return isinstance(err, asyncpg.PostgresError) and sqlstate[:2] in ("22", "23")


# SQLSTATE classes of errors that a retry in a few seconds may mend: connection exceptions,
# insufficient resources (too many connections), operator intervention (shutting down,
# starting up), transaction rollbacks (deadlocks), lock not available.
_TRANSIENT_CLASSES = ("08", "53", "57", "40")
_TRANSIENT_STATES = ("55P03",)


def is_transient(err: BaseException) -> bool:
    """A connection lost or refused for now; False for what needs someone to act (schema, password...)."""
    if isinstance(err, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    sqlstate = getattr(err, "sqlstate", None) or ""
    if isinstance(err, asyncpg.PostgresError):
        return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_STATES
    return False


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        _LOGGER.warning("recorder: %s", message)


async def apply_schema(
    conn: asyncpg.Connection,
    settings: dict[str, str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> bool:
    """Run schema.sql (safe to repeat); returns whether TimescaleDB is in use.

    The schema's WARNINGs (TimescaleDB installed but not preloaded, a step that failed) go to
    `on_warning`; by default each different one is logged once per process (the recorder
    applies the schema again at every reconnect).
    """
    warn = on_warning or _warn_once

    def listen(_conn: object, message: asyncpg.PostgresLogMessage) -> None:
        # severity_en is the untranslated severity (servers from 9.6 on send it).
        if (message.severity_en or message.severity) == "WARNING":
            warn(message.message)

    conn.add_log_listener(listen)
    try:
        for name, value in (settings or {}).items():
            await conn.execute("SELECT set_config($1, $2, false)", name, value)
        await conn.execute(schema_sql())
    finally:
        conn.remove_log_listener(listen)
    await check_states_columns(conn)
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"))


async def check_states_columns(conn: asyncpg.Connection) -> None:
    """Binary COPY data must match the column types exactly (a table from elsewhere might not)."""
    found = dict(await conn.fetch(
        "SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = 'states'::regclass AND attnum > 0 AND NOT attisdropped"
    ))
    expected = dict(zip(COLUMNS["states"], copy_binary.STATES_TYPES, strict=True))
    wrong = [f"{name} is {found.get(name, 'missing')}, expected {kind}"
             for name, kind in expected.items() if found.get(name) != kind]
    if wrong:
        raise SchemaMismatch(f"table states: {'; '.join(wrong)}")


async def _sliced(columns: Columns) -> AsyncIterator[Row]:
    """The rows, yielding to the event loop every SLICE seconds: COPY encoding must not hog the loop.

    Each row tuple lives only while asyncpg encodes it.
    """
    clock = time.perf_counter  # CPU budgeting, not domain time
    slice_end = clock() + SLICE
    for n, row in enumerate(zip(*columns, strict=True), 1):
        yield row
        if not n % _CHECK_EVERY and clock() > slice_end:
            await pause()
            slice_end = clock() + SLICE


async def _sliced_data(chunks: Iterable[bytes | bytearray]) -> AsyncIterator[bytes]:
    """The binary COPY data of encoded rows, yielding to the event loop every SLICE seconds."""
    clock = time.perf_counter  # CPU budgeting, not domain time
    slice_end = clock() + SLICE
    for data in copy_binary.stream(chunks, _SEND_BYTES):
        yield data
        if clock() > slice_end:
            await pause()
            slice_end = clock() + SLICE


class Writer:
    def __init__(
        self,
        dsn: Callable[[], Awaitable[str]],
        settings: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._dsn = dsn
        self._settings = settings or {}
        self.timeout = timeout
        self.conn: asyncpg.Connection | None = None
        self.timescale = False
        self.url: str | None = None

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    async def connect(self) -> None:
        """Connect (starting the embedded server first when there is one) and apply the schema."""
        url = await self._dsn()
        conn = await asyncpg.connect(url, timeout=10)
        try:
            async with asyncio.timeout(self.timeout):
                self.timescale = await migrations.upgrade(conn, lambda: apply_schema(conn, self._settings))
        except BaseException:
            conn.terminate()
            raise
        self.conn = conn
        self.url = url

    async def write(self, batch: Batch) -> bool:
        """Write one batch in one transaction; False when it had been written before."""
        conn = self.conn
        if conn is None:
            raise ConnectionError("recorder: not connected")
        async with asyncio.timeout(self.timeout), conn.transaction():
            receipt = await conn.fetchval(
                "INSERT INTO recorder_batches (batch_id, first_seq, last_seq, rows) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (batch_id) DO NOTHING RETURNING 1",
                batch.batch_id, batch.first_seq, batch.last_seq, batch.rows,
            )
            if receipt is None:
                return False
            if batch.states.count:
                await conn.copy_to_table("states", source=_sliced_data(batch.states.ordered()),
                                         columns=COLUMNS["states"], format="binary")
            for table, columns in batch.tables.items():
                if columns[0]:
                    await conn.copy_records_to_table(table, records=_sliced(columns), columns=COLUMNS[table])
        return True

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            async with asyncio.timeout(5):
                await conn.close()
        except Exception:  # a dead connection cannot close politely
            conn.terminate()

    def drop(self) -> None:
        """Forget a connection that failed (no waiting on it)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.terminate()

