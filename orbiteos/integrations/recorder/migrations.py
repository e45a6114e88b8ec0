"""The database schema's version, and the steps that bring an older database forward.

`schema.sql` always describes the newest schema, `SCHEMA_VERSION`. The table `schema_version`
holds one row per version a database has been brought to. On every connect the recorder calls
`upgrade`, which, under an advisory lock (two engines on one database take turns):

1. refuses a database whose version is newer than `SCHEMA_VERSION` (`SchemaTooNew`), before
   anything is changed: an older OrbitEOS must not write into a schema it does not know;
2. runs each step in `MIGRATIONS` from the database's version up to `SCHEMA_VERSION`, each in
   its own transaction together with its `schema_version` row;
3. applies `schema.sql` (which creates what is missing), and stamps a new database.

A database with OrbitEOS tables but no `schema_version` (made before versions existed) is
version 1. To change the schema: edit `schema.sql`, raise `SCHEMA_VERSION`, and add the step
that turns a database of the version before into one `schema.sql` accepts (an `ALTER TABLE`,
a backfill). See docs/upgrade.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import asyncpg

from orbiteos import __version__

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# pg_advisory_lock key: "OrbitEOS" in ASCII, so that it does not meet another application's lock.
LOCK_KEY = 0x4F72626974454F53
# What a database looks like before versions existed: the recorder's first table.
_LEGACY_TABLE = "states"

Migration = Callable[[asyncpg.Connection], Awaitable[None]]
# version -> the step that brings a database from version - 1 to version.
MIGRATIONS: dict[int, Migration] = {}

T = TypeVar("T")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     NOT NULL PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    orbiteos   text        NOT NULL
)
"""


class SchemaTooNew(Exception):
    """The database was brought to a schema version newer than this OrbitEOS knows."""


async def database_version(conn: asyncpg.Connection) -> int | None:
    """The database's schema version; None for a database without OrbitEOS tables."""
    if await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
        version = await conn.fetchval("SELECT max(version) FROM schema_version")
        if version is not None:
            return int(version)
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _LEGACY_TABLE):
        return 1
    return None


async def upgrade(
    conn: asyncpg.Connection,
    apply_schema: Callable[[], Awaitable[T]],
    *,
    latest: int = SCHEMA_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> T:
    """Check the version, migrate forward, then `apply_schema()`; returns what that returned."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        found = await database_version(conn)
        if found is not None and found > latest:
            raise SchemaTooNew(
                f"the database's schema is version {found}, newer than this OrbitEOS ({__version__}) knows "
                f"(version {latest}); run the newer OrbitEOS again, or restore the backup made before the "
                "upgrade (docs/upgrade.md)"
            )
        await conn.execute(_CREATE_TABLE)
        if found is not None:
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM schema_version)"):
                await _stamp(conn, found)  # a database from before versions: say what it is
            for version in range(found + 1, latest + 1):
                step = migrations.get(version)
                if step is None:
                    raise RuntimeError(f"recorder: no migration to schema version {version}")
                _LOGGER.info("recorder: migrating the database schema from version %d to %d", version - 1, version)
                async with conn.transaction():
                    await step(conn)
                    await _stamp(conn, version)
        result = await apply_schema()
        if found is None:
            await _stamp(conn, latest)
        return result
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        except Exception:  # a broken connection: the lock went with it, and the first error is the one to see
            pass


async def _stamp(conn: asyncpg.Connection, version: int) -> None:
    await conn.execute(
        "INSERT INTO schema_version (version, orbiteos) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING",
        version,
        __version__,
    )
