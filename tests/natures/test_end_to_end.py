"""The fail-safe on the real protocol stack: `orbiteos sim-devices` (the demo site over Modbus TCP,
MQTT and OCPP) and `orbiteos run` as two processes, a real mosquitto, PostgreSQL and Chromium.

The broker that feeds the grid meter stops: within the meter's staleness plus `after` plus one
check, the battery is in its safe state and the charger at its floor, the alert is in the web UI
and the fail-safe rows are in the database. The engine is then killed with SIGKILL: the simulated
inverter lifts its limit when its SunSpec revert timer runs out, and the charger falls back to its
floor profile when the limit's profile expires; nobody tells them to.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import asyncpg
import pytest

from orbiteos.integrations.modbus.client import ModbusClient
from orbiteos.integrations.modbus.profiles import sunspec as ss
from tests.servers.chromium import Chromium
from tests.servers.mosquitto import MosquittoBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
# The engine's fail-safe, tight so the test is short: 2 s stale, 2 s more before acting, renewals every
# second, devices hold a setpoint 4 s by themselves.
FAILSAFE = {"stale_after": 2, "after": 2, "keepalive": 1, "revert_after": 4}
# What may pass between the broker stopping and the safe states: stale_after + after + one check (1 s)
# + one Modbus poll (1 s) + one OCPP meter report, and slack for a loaded machine.
REACT_WITHIN_S = 2 + 2 + 1 + 1 + 1 + 8


def engine_config(ports: dict[str, int], db_url: str) -> str:
    return json.dumps({
        "orbiteos": {"name": "end to end", "time_zone": "Europe/Amsterdam", "latitude": 52.09, "longitude": 5.12},
        "modbus": [
            {"name": "inverter", "host": "127.0.0.1", "port": ports["pv"], "timeout": 1, "retry_max": 1,
             "pv": [{"name": "roof", "profile": "sunspec", "peak_power_kw": 50, "scan_interval": 1}]},
            {"name": "storage", "host": "127.0.0.1", "port": ports["battery"], "timeout": 1, "retry_max": 1,
             "battery": [{"name": "main", "profile": "orbiteos_battery", "scan_interval": 1}]},
        ],
        "mqtt": {"broker": "127.0.0.1", "port": ports["mqtt"], "client_id": "e2e-engine",
                 "meter": [{"name": "Grid", "state_topic": "orbiteos-sim/meter/grid"}]},
        "ocpp": {"host": "127.0.0.1", "port": ports["ocpp"], "charge_points": [{"id": "depot"}], "accept_all": True},
        "http": {"server_host": "127.0.0.1", "server_port": ports["http"]},
        "recorder": {"db_url": db_url, "commit_interval": 0.5},
        "failsafe": FAILSAFE,
        "logger": {"default": "info"},
    })


async def _process(*args: str, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orbiteos.cli", *args, cwd=ROOT, stdout=log.open("wb"), stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def eventually(check: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    """Poll an async or plain check until it returns something truthy; its value is returned."""
    try:
        async with asyncio.timeout(within):
            while True:
                value = check()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out after {within:g} s waiting for {what}") from None


class Api:
    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session, self.url = session, url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        try:
            async with self.session.get(f"{self.url}/api/states/{entity_id}", headers=self.headers) as response:
                return await response.json() if response.status == 200 else None
        except aiohttp.ClientError:
            return None

    async def call(self, domain: str, service: str, data: dict[str, Any]) -> None:
        async with self.session.post(f"{self.url}/api/services/{domain}/{service}", json=data,
                                     headers=self.headers) as response:
            assert response.status == 200, await response.text()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_lost_meter_fails_safe_and_a_killed_engine_leaves_devices_to_fall_back(
    tmp_path: Path, mosquitto: MosquittoBroker, postgres_url: str, chromium: Chromium,
    http: aiohttp.ClientSession,
) -> None:
    ports = {"pv": free_port(), "battery": free_port(), "mqtt": mosquitto.port, "ocpp": free_port(),
             "http": free_port()}
    config_dir = tmp_path / "engine"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(engine_config(ports, postgres_url))
    token_process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orbiteos.cli", "token", "create", "--name", "e2e", "--role", "admin",
        "-c", str(config_dir), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    token = (await token_process.communicate())[0].decode().strip()
    devices = await _process(
        "sim-devices", "-c", str(ROOT / "config.example"), "--mqtt-port", str(ports["mqtt"]), "--mqtt-interval",
        "0.5", "--modbus-pv-port", str(ports["pv"]), "--modbus-battery-port", str(ports["battery"]),
        "--modbus-meter-port", str(free_port()),
        "--ocpp-url", f"ws://127.0.0.1:{ports['ocpp']}/ocpp", "--ocpp-meter-interval", "1", log=tmp_path / "sim.log")
    engine = await _process("run", "-c", str(config_dir), log=tmp_path / "engine.log")
    api = Api(http, f"http://127.0.0.1:{ports['http']}", token)
    try:
        for entity_id in ("meter.grid", "battery.main", "pv.roof", "ev_charger.depot_1"):
            await eventually(lambda e=entity_id: _available(api, e), f"{entity_id} read over its protocol", 60)
        # Until the meter's first reading the engine may have gone safe; it hands back once it is fresh.
        await eventually(lambda: _no_alert(api), "no fail-safe in force", 30)
        await api.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -20})
        await api.call("pv", "set_limit", {"entity_id": "pv.roof", "percent": 30})
        await api.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "current_a": 16})
        await eventually(lambda: _attribute(api, "battery.main", "setpoint_kw", -20.0), "the battery setpoint")
        await eventually(lambda: _attribute(api, "ev_charger.depot_1", "limit_kw", 11.04), "the charger limit")

        # --- the broker feeding the meter stops ---------------------------------------------
        mosquitto.stop()
        await eventually(lambda: _attribute(api, "battery.main", "mode", "auto"), "the battery in auto",
                         REACT_WITHIN_S)
        await eventually(lambda: _attribute(api, "ev_charger.depot_1", "limit_kw", 4.14), "the charger at 6 A",
                         REACT_WITHIN_S)
        alerts = await api.state("sensor.orbiteos_alerts")
        assert alerts is not None and alerts["state"] == "1"
        # Unavailable (the MQTT connection is lost) or stale, whichever the engine sees first.
        assert "Fail-safe since" in alerts["attributes"]["alerts"][0]["message"]
        assert "meter.grid is" in alerts["attributes"]["alerts"][0]["message"]
        async with chromium.page() as page:
            await page.goto(api.url + "/")
            await page.wait_for("!document.getElementById('signin').hidden")
            await page.type("#token-input", token)
            await page.click("#signin-button")
            await page.wait_for("!document.getElementById('alerts').hidden")
            text = await page.evaluate("document.getElementById('alert-list').textContent")
            assert "Fail-safe" in text and "meter.grid is" in text and "battery.main auto" in text
            meter = await api.state("meter.grid")
            if meter is not None and meter["state"] == "unavailable":  # no made-up site load without it
                await page.wait_for("document.querySelector('[data-value=site]').textContent === '–'")
        connection = await asyncpg.connect(postgres_url)
        try:
            rows = await eventually(lambda: _failsafe_rows(connection), "the fail-safe rows in grid_events")
        finally:
            await connection.close()
        assert {(r["entity_id"], json.loads(r["data"])["action"]) for r in rows} >= {
            ("battery.main", "auto"), ("ev_charger.depot_1", "set_limit(current_a 6)")}

        # --- the meter is back; then the engine dies -------------------------------------------
        mosquitto.start(keep_port=True)
        await eventually(lambda: _attribute(api, "sensor.orbiteos_alerts", None, "0"), "the fail-safe to end", 30)
        await api.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "current_a": 16})
        await eventually(lambda: _attribute(api, "ev_charger.depot_1", "limit_kw", 11.04), "the charger limit")
        assert await _inverter_percent(ports["pv"]) == 30.0
        engine.send_signal(signal.SIGKILL)
        await engine.wait()
        # Renewed until a second ago; the devices hold 4 s, then fall back by themselves.
        await eventually(lambda: _inverter_percent(ports["pv"], expect=100.0), "the inverter to lift its limit", 15)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.subscribe("orbiteos-sim/ev_charger/depot")
            async with asyncio.timeout(15):
                async for message in client.messages:
                    if json.loads(message.payload)["limit_kw"] == 4.14:
                        break
    finally:
        await _stop(engine)
        await _stop(devices)
        if not mosquitto.running:
            mosquitto.start(keep_port=True)
    log = (tmp_path / "engine.log").read_text()
    assert "fail-safe: meter.grid is" in log and "fail-safe ends" in log
    assert "no control write for 4 s; falling back by itself" in (tmp_path / "sim.log").read_text()


async def _available(api: Api, entity_id: str) -> bool:
    state = await api.state(entity_id)
    return state is not None and state["state"] not in ("unavailable", "unknown")


async def _no_alert(api: Api) -> bool:
    alerts = await api.state("sensor.orbiteos_alerts")
    return alerts is None or alerts["state"] == "0"


async def _attribute(api: Api, entity_id: str, name: str | None, value: Any) -> bool:
    state = await api.state(entity_id)
    if state is None:
        return False
    return (state["state"] if name is None else state["attributes"].get(name)) == value


async def _failsafe_rows(connection: asyncpg.Connection) -> list[Any]:
    try:
        rows = await connection.fetch("SELECT entity_id, data::text AS data FROM grid_events WHERE kind = 'failsafe'")
    except asyncpg.UndefinedTableError:
        return []
    return rows if len(rows) >= 3 else []


async def _inverter_percent(port: int, expect: float | None = None) -> float | bool:
    """WMaxLimPct as the inverter holds it (100 when WMaxLim_Ena is off), read straight from the device."""
    client = ModbusClient("127.0.0.1", port, timeout=2)
    async with client:
        registers = await client.read_registers("holding", ss.IMMEDIATE, ss.WMAXLIMPCT_SF - ss.IMMEDIATE + 1)
    enabled = registers[ss.WMAXLIM_ENA - ss.IMMEDIATE]
    raw, sf = registers[ss.WMAXLIMPCT - ss.IMMEDIATE], registers[ss.WMAXLIMPCT_SF - ss.IMMEDIATE]
    sf = sf - 65536 if sf > 32767 else sf
    percent = round(raw * 10.0**sf, 3) if enabled else 100.0
    return percent == expect if expect is not None else percent
