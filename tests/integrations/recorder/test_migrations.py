"""Schema versions: a new database is stamped, an older one migrated forward, a newer one refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from orbiteos import __version__
from orbiteos.integrations.recorder import migrations
from orbiteos.integrations.recorder.migrations import SCHEMA_VERSION, SchemaTooNew, upgrade
from orbiteos.integrations.recorder.writer import Writer


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(postgres_url)
    try:
        yield connection
    finally:
        await connection.close()


def _schema(conn: asyncpg.Connection, log: list[str]):  # type: ignore[no-untyped-def]
    """Stands for schema.sql: creates the first table if missing, and notes that it ran."""

    async def apply() -> str:
        log.append("schema")
        await conn.execute("CREATE TABLE IF NOT EXISTS states (entity_id text, value double precision)")
        return "applied"

    return apply


async def _versions(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    return [tuple(r) for r in await conn.fetch("SELECT version, orbiteos FROM schema_version ORDER BY version")]


async def test_a_new_database_gets_the_schema_and_the_current_version(conn: asyncpg.Connection) -> None:
    log: list[str] = []
    assert await upgrade(conn, _schema(conn, log)) == "applied"
    assert log == ["schema"]
    assert await _versions(conn) == [(SCHEMA_VERSION, __version__)]
    assert await upgrade(conn, _schema(conn, log)) == "applied"  # every connect: nothing more to do
    assert await _versions(conn) == [(SCHEMA_VERSION, __version__)]


async def test_a_database_from_before_versions_is_version_1_and_migrates_forward_in_order(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute("CREATE TABLE states (entity_id text, value double precision)")
    await conn.execute("INSERT INTO states VALUES ('meter.grid', 12.5)")
    log: list[str] = []

    async def add_unit(c: asyncpg.Connection) -> None:
        log.append("2")
        await c.execute("ALTER TABLE states ADD COLUMN unit text")

    async def backfill_unit(c: asyncpg.Connection) -> None:
        log.append("3")
        await c.execute("UPDATE states SET unit = 'kW' WHERE entity_id LIKE 'meter.%'")

    await upgrade(conn, _schema(conn, log), latest=3, migrations={2: add_unit, 3: backfill_unit})
    assert log == ["2", "3", "schema"]  # the steps first: schema.sql may rely on them
    assert [v for v, _ in await _versions(conn)] == [1, 2, 3]
    assert [tuple(r) for r in await conn.fetch("SELECT entity_id, value, unit FROM states")] == [
        ("meter.grid", 12.5, "kW")
    ]


async def test_a_failing_step_leaves_the_database_at_the_version_before(conn: asyncpg.Connection) -> None:
    await upgrade(conn, _schema(conn, []))

    async def broken(c: asyncpg.Connection) -> None:
        await c.execute("ALTER TABLE states ADD COLUMN unit text")
        await c.execute("SELECT 1 / 0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await upgrade(conn, _schema(conn, []), latest=SCHEMA_VERSION + 1, migrations={SCHEMA_VERSION + 1: broken})
    assert [v for v, _ in await _versions(conn)] == [SCHEMA_VERSION]
    assert await conn.fetchval("SELECT count(*) FROM pg_attribute WHERE attrelid = 'states'::regclass "
                               "AND attname = 'unit'") == 0  # fmt: skip


async def test_two_engines_connecting_at_once_run_each_step_once(postgres_url: str) -> None:
    first, second = await asyncpg.connect(postgres_url), await asyncpg.connect(postgres_url)
    try:
        await first.execute("CREATE TABLE states (entity_id text); CREATE TABLE steps (version int)")

        async def slow_step(c: asyncpg.Connection) -> None:
            await c.execute("SELECT pg_sleep(0.2); INSERT INTO steps VALUES (2)")

        await asyncio.gather(
            *(upgrade(c, _schema(c, []), latest=2, migrations={2: slow_step}) for c in (first, second))
        )
        assert await first.fetchval("SELECT count(*) FROM steps") == 1
        assert [v for v, _ in await _versions(first)] == [1, 2]
    finally:
        await first.close()
        await second.close()


async def test_a_newer_schema_is_refused_before_anything_is_changed(conn: asyncpg.Connection) -> None:
    await upgrade(conn, _schema(conn, []))
    await conn.execute("INSERT INTO schema_version (version, orbiteos) VALUES ($1, '9.0')", SCHEMA_VERSION + 1)
    log: list[str] = []
    with pytest.raises(SchemaTooNew) as refused:
        await upgrade(conn, _schema(conn, log))
    assert str(refused.value) == (
        f"the database's schema is version {SCHEMA_VERSION + 1}, newer than this OrbitEOS ({__version__}) knows "
        f"(version {SCHEMA_VERSION}); run the newer OrbitEOS again, or restore the backup made before the upgrade "
        "(docs/upgrade.md)"
    )
    assert log == []


async def test_the_recorder_refuses_a_newer_schema_without_running_schema_sql(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("CREATE TABLE schema_version (version int PRIMARY KEY, applied_at timestamptz "
                           "NOT NULL DEFAULT now(), orbiteos text NOT NULL)")  # fmt: skip
        await conn.execute("INSERT INTO schema_version (version, orbiteos) VALUES (99, '9.0')")

        async def dsn() -> str:
            return postgres_url

        writer = Writer(dsn)
        with pytest.raises(SchemaTooNew, match="schema is version 99"):
            await writer.connect()
        assert not writer.connected
        assert await conn.fetchval("SELECT to_regclass('events') IS NULL")  # schema.sql did not run
    finally:
        await conn.close()


def test_every_version_up_to_the_current_has_its_step() -> None:
    assert set(migrations.MIGRATIONS) == set(range(2, SCHEMA_VERSION + 1))
