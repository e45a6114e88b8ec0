"""A configuration directory as `orbiteos run` loads it: an mqtt trigger drives an automation that publishes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from orbiteos.config import load_config
from orbiteos.core import Hub
from orbiteos.integrations import mqtt
from orbiteos.loader import setup_integrations
from tests.integrations.mqtt.conftest import WAIT_S
from tests.servers.mosquitto import MosquittoBroker

CONFIGURATION = """
mqtt:
  broker: 127.0.0.1
  port: {port}
  reconnect_min_delay: 0.05
  sensor:
    - name: Charger power
      state_topic: chargers/cp1/telemetry
      value_template: "{{{{ value_json.power_kw }}}}"
      unit_of_measurement: kW
automation:
  - id: charger_state_echo
    alias: Echo charger status changes
    triggers:
      - trigger: mqtt
        topic: chargers/+/status
        value_template: "{{{{ value_json.status }}}}"
        payload: Charging
    actions:
      - action: mqtt.publish
        data:
          topic: "site/echo/{{{{ trigger.topic.split('/')[1] }}}}"
          payload: "{{{{ trigger.payload_json.status }}}} at {{{{ states('sensor.charger_power') }}}} kW"
"""


async def test_mqtt_trigger_runs_an_automation_that_publishes(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIGURATION.format(port=mosquitto.port), encoding="utf-8")
    loaded = load_config(tmp_path)
    assert [str(e) for e in loaded.errors] == []
    hub = Hub(config=loaded.site)
    result = await setup_integrations(hub, loaded.blocks)
    assert result.failed == {}
    await hub.start()
    try:
        async with asyncio.timeout(WAIT_S):
            await mqtt.get_connection(hub).wait_connected()
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as device:
            await device.subscribe("site/echo/#")
            await device.publish("chargers/cp1/telemetry", json.dumps({"power_kw": 11.0}))
            await device.publish("chargers/cp1/status", json.dumps({"status": "Available"}))
            await device.publish("chargers/cp1/status", json.dumps({"status": "Charging"}))
            async with asyncio.timeout(WAIT_S):
                message = await anext(aiter(device.messages))
        assert message.topic.value == "site/echo/cp1"
        assert message.payload == b"Charging at 11.0 kW"
    finally:
        async with asyncio.timeout(WAIT_S):
            await hub.stop()
