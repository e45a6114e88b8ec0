"""A finished OCPP session reaches the database through the recorder as an `ocpp_session` event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
from ocpp.v16 import call

from orbiteos.core import Hub, SiteConfig
from orbiteos.integrations import recorder as recorder_integration
from orbiteos.integrations.ocpp import async_setup
from orbiteos.integrations.recorder.history import get_recorder

from .conftest import connect


async def test_finished_session_is_recorded_as_an_ocpp_session_event(postgres_url: str, tmp_path: Path) -> None:
    hub = Hub(config=SiteConfig(config_dir=tmp_path))
    await recorder_integration.async_setup(hub, {"db_url": postgres_url, "commit_interval": 0.05})
    await async_setup(hub, {"host": "127.0.0.1", "port": 0, "charge_points": ["cp1"], "accept_all": True})
    await hub.start()
    try:
        async with asyncio.timeout(30):
            async with connect(f"ws://127.0.0.1:{hub.data['ocpp'].port}/ocpp", "cp1") as c:
                started = await c.cp.call(call.StartTransaction(
                    connector_id=1, id_tag="TAG9", meter_start=500, timestamp="2026-01-01T08:00:00Z"))
                await c.cp.call(call.StopTransaction(
                    meter_stop=20_500, timestamp="2026-01-01T10:00:00Z", transaction_id=started.transaction_id,
                    reason="Local"))
            recorder = get_recorder(hub)
            assert recorder is not None
            await recorder.flush()
            conn = await asyncpg.connect(postgres_url)
            try:
                rows = await conn.fetch("SELECT data FROM events WHERE event_type = 'ocpp_session'")
            finally:
                await conn.close()
    finally:
        await hub.stop()
    assert len(rows) == 1
    data = json.loads(rows[0]["data"])
    assert (data["transaction_id"], data["id_tag"], data["energy_kwh"], data["start"], data["stop"]) == (
        started.transaction_id, "TAG9", 20.0, "2026-01-01T08:00:00+00:00", "2026-01-01T10:00:00+00:00")
