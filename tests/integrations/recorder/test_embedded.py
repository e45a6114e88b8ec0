"""The embedded default: no db_url, and the recorder runs and stops a PostgreSQL of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.recorder.embedded import (
    EmbeddedPostgresError,
    EmbeddedServer,
    find_bindir,
    preload_for,
    timescaledb_installed,
)
from tests.integrations.recorder.conftest import fetch, running_recorder
from tests.servers.embedded_dir import embedded_root
from tests.servers.postgres import timescaledb_missing


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


def test_timescaledb_off_auto_on_decide_what_the_embedded_server_preloads(tmp_path: Path):
    bare = tmp_path / "17" / "bin"  # a PostgreSQL without TimescaleDB
    bare.mkdir(parents=True)
    assert preload_for("off", bare) == ()
    assert preload_for("auto", bare) == ()
    with pytest.raises(EmbeddedPostgresError, match="timescaledb is 'on' but the PostgreSQL in .* has no TimescaleDB"):
        preload_for("on", bare)
    installed = find_bindir()
    assert preload_for("auto", installed) == (("timescaledb",) if timescaledb_installed(installed) else ())
    assert preload_for("off", installed) == ()


async def test_with_timescaledb_installed_the_embedded_default_records_into_hypertables(config_dir: Path):
    reason = timescaledb_missing()
    if reason is not None:
        pytest.skip(reason)
    async with asyncio.timeout(120):
        hub = Hub(config=SiteConfig(config_dir=config_dir))
        await recorder_integration.async_setup(hub, {"commit_interval": 0.05})  # timescaledb: auto
        await hub.start()
        try:
            hub.states.set("pv.roof", 12.0, {"energy_kwh": 3.0})
            recorder = running_recorder(hub)
            await recorder.flush()
            url = recorder.url
            assert url is not None
            hypertables = await fetch(url, "SELECT hypertable_name FROM timescaledb_information.hypertables")
            flows = await fetch(url, "SELECT flow, power_kw FROM energy_flows")
        finally:
            await hub.stop()
    assert recorder.writer.timescale
    assert "energy_flows" in {r["hypertable_name"] for r in hypertables}
    assert [tuple(r) for r in flows] == [("pv", 12.0)]
