"""The embedded default: no db_url, and the recorder runs and stops a PostgreSQL of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.recorder.embedded import EmbeddedPostgresError, EmbeddedServer
from tests.integrations.recorder.conftest import fetch, running_recorder
from tests.servers.embedded_dir import embedded_root


@pytest.fixture
def config_dir() -> Iterator[Path]:
    with embedded_root("orbiteos-embedded-") as root:
        yield root


async def test_without_db_url_the_recorder_starts_records_into_and_stops_its_own_server(config_dir: Path):
    async with asyncio.timeout(120):
        hub = Hub(config=SiteConfig(config_dir=config_dir))
        await recorder_integration.async_setup(hub, {"commit_interval": 0.05})
        await hub.start()
        hub.states.set("battery.main", -5.0, {"soc": 50})
        recorder = running_recorder(hub)
        await recorder.flush()
        url = recorder.url
        assert url is not None
        rows = await fetch(url, "SELECT entity_id, value FROM states UNION ALL "
                                "SELECT device_id, soc FROM device_telemetry")
        await hub.stop()
        cluster = EmbeddedServer(config_dir / ".storage").cluster
        assert not await asyncio.to_thread(cluster.is_running)
    assert sorted(tuple(r) for r in rows) == [("battery.main", -5.0), ("battery.main", 50.0)]
    assert (config_dir / ".storage" / "postgres" / "PG_VERSION").exists()
    if os.geteuid() == 0:
        assert (config_dir / ".storage" / "postgres").stat().st_uid != 0  # owned by the postgres user


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the data directory to the postgres user")
def test_a_config_directory_the_server_user_cannot_enter_is_refused_at_set_up(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError, match="cannot enter"):
        EmbeddedServer(locked / "site" / ".storage")
