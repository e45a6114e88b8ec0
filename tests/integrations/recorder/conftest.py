"""Helpers for the recorder tests: a hub with a recorder on the session's PostgreSQL.

Every recorder test that uses a database runs twice: on plain PostgreSQL and on TimescaleDB
(skipped with the reason where TimescaleDB is not installed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.recorder.history import get_recorder
from orbiteos.integrations.recorder.recorder import Recorder
from tests.servers.postgres import KINDS, each_postgres_kind

RecorderHub = Callable[..., Any]

postgres_kind = pytest.fixture(params=KINDS)(each_postgres_kind)


@pytest.fixture
def recorder_hub(postgres_url: str, tmp_path: Path) -> RecorderHub:
    """`async with recorder_hub(**recorder_config) as hub:` a started hub recording into a fresh database,
    connected to it (`connected=False`: do not wait for that)."""

    @asynccontextmanager
    async def make(*, connected: bool = True, **config: Any) -> AsyncIterator[Hub]:
        hub = Hub(config=SiteConfig(config_dir=tmp_path))
        await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 0.05, **config})
        await hub.start()
        try:
            if connected:  # the schema applied (slower on TimescaleDB), so history answers at once
                await running_recorder(hub).wait_connected()
            yield hub
        finally:
            await hub.stop()

    return make


def running_recorder(hub: Hub) -> Recorder:
    recorder = get_recorder(hub)
    assert recorder is not None
    return recorder


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()
