"""`/api/history/period` with the recorder on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from orbiteos.integrations.recorder.history import get_recorder
from tests.integrations.http.conftest import PEAK_SHAVING, Site, start_site
from tests.servers.postgres import KINDS, each_postgres_kind

# On plain PostgreSQL and on TimescaleDB (skipped with the reason where it is not installed).
postgres_kind = pytest.fixture(params=KINDS)(each_postgres_kind)


@pytest.fixture
async def recorded_site(tmp_path: Path, postgres_url: str) -> AsyncIterator[Site]:
    site = await start_site(tmp_path, recorder_url=postgres_url)
    try:
        recorder = get_recorder(site.hub)
        assert recorder is not None
        async with asyncio.timeout(60):  # the schema applied (slower on TimescaleDB): history answers at once
            await recorder.wait_connected()
        yield site
    finally:
        await site.session.close()
        await site.hub.stop()


async def test_history_returns_recorded_states_per_entity(recorded_site: Site) -> None:
    hub = recorded_site.hub
    start = hub.clock.now() - timedelta(minutes=1)
    for value in ("1.0", "2.0", "3.0"):
        hub.states.set("meter.grid", value)
    hub.states.set("battery.main", "-4.0", {"soc": 60.0})
    status, body = await recorded_site.request(
        "GET", f"/api/history/period/{quote(start.isoformat())}?filter_entity_id=meter.grid,battery.main,pv.none",
        role="viewer",
    )
    assert status == 200, body
    assert [series[0]["entity_id"] for series in body] == ["meter.grid", "battery.main"]
    assert [row["state"] for row in body[0]] == ["12.5", "1.0", "2.0", "3.0"]
    assert body[1][-1]["attributes"]["soc"] == 60.0
    config = await recorded_site.request("GET", "/api/config", role="viewer")
    assert config[1]["history"] is True


async def test_history_in_buckets(recorded_site: Site) -> None:
    hub = recorded_site.hub
    start = hub.clock.now() - timedelta(minutes=1)
    for value in ("2.0", "4.0"):
        hub.states.set("meter.grid", value)
    end = hub.clock.now() + timedelta(minutes=1)
    status, body = await recorded_site.request(
        "GET",
        f"/api/history/period/{quote(start.isoformat())}?filter_entity_id=meter.grid&bucket=3600"
        f"&end_time={quote(end.isoformat())}",
        role="viewer",
    )
    assert status == 200, body
    (bucket,) = body[0]
    assert bucket["entity_id"] == "meter.grid"
    assert bucket["count"] == 3
    assert bucket["max"] == 12.5 and bucket["min"] == 2.0
    status, body = await recorded_site.request(
        "GET", "/api/history/period?filter_entity_id=meter.grid&bucket=-5", role="viewer"
    )
    assert status == 400
    assert "bucket" in body["message"]


async def test_end_before_start_is_400(recorded_site: Site) -> None:
    status, body = await recorded_site.request(
        "GET", "/api/history/period/2026-01-02T00:00:00Z?filter_entity_id=meter.grid&end_time=2026-01-01T00:00:00Z",
        role="viewer",
    )
    assert status == 400
    assert "not after" in body["message"]


async def test_api_calls_reach_the_recorders_audit_log_with_the_token_name(
    tmp_path: Path, postgres_url: str
) -> None:
    (tmp_path / "configuration.yaml").write_text("automation:" + PEAK_SHAVING)  # for automation.reload
    site = await start_site(tmp_path, recorder_url=postgres_url, automations=PEAK_SHAVING)
    try:
        target = {"entity_id": "automation.peak_shaving"}
        assert (await site.request("POST", "/api/services/automation/turn_off", role="operator", json=target))[0] == 200
        assert (await site.request("POST", "/api/services/automation/reload", role="admin"))[0] == 200
        assert (await site.request("POST", "/api/services/battery/set_power", role="operator",
                                   json={"entity_id": "battery.main", "power_kw": 2}))[0] == 200
        async with asyncio.timeout(30):
            await get_recorder(site.hub).flush()
        rows = await _fetch(postgres_url, "SELECT user_id, domain, service FROM audit_log ORDER BY seq")
    finally:
        await site.session.close()
        await site.hub.stop()
    assert [(r["user_id"], r["domain"], r["service"]) for r in rows] == [
        ("operator", "automation", "turn_off"),
        ("admin", "automation", "reload"),
        ("operator", "battery", "set_power"),
    ]


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()
