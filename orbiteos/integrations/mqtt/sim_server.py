"""`orbiteos sim-devices`: the simulated site's smart meter and EV chargers on an MQTT broker.

Every `--mqtt-interval` seconds (1 s) it publishes, as JSON objects:

- `<prefix>/meter/<name>`: `power_kw` (+ import / - export), `import_kwh`, `export_kwh`,
  `frequency_hz`, `voltage_l1..3`, `current_l1..3`, `power_l1..3`, `time`;
- `<prefix>/ev_charger/<name>`: `power_kw`, `status`, `limit_kw`, `session_kwh`, `vehicle_soc` ...;
- `<prefix>/battery/<name>`: `power_kw` (+ discharge / - charge), `soc`, `setpoint_kw` ...

and accepts battery setpoints: `<prefix>/battery/<name>/set_power` with a number of kW or
`{"power_kw": x}` (with `"revert_s": n`, the battery goes back to auto by itself when no new
setpoint comes for n seconds), and `<prefix>/battery/<name>/auto` (any payload) to hand control back.
`<prefix>/status` is `online` (retained) while connected and `offline` after: published on a clean
stop, and by the broker (the last will) when the process dies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
from typing import Any

from orbiteos.core import Hub, State
from orbiteos.errors import OrbitEOSError
from orbiteos.integrations.mqtt.client import BrokerSettings, MqttClient, MqttMessage, MqttNotConnected, Publication
from orbiteos.integrations.mqtt.payload import NOT_JSON, parse_json

_LOGGER = logging.getLogger(__name__)

DEFAULT_PREFIX = "orbiteos-sim"
PUBLISHED_DOMAINS = ("meter", "ev_charger", "battery")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("MQTT (smart meter, EV chargers, battery setpoints)")
    group.add_argument("--mqtt-host", default="127.0.0.1", help="MQTT broker host (default: %(default)s)")
    group.add_argument("--mqtt-port", type=int, default=1883, help="MQTT broker port (default: %(default)s)")
    group.add_argument("--mqtt-prefix", default=DEFAULT_PREFIX, help="topic prefix (default: %(default)s)")
    group.add_argument(
        "--mqtt-interval", type=float, default=1.0, help="seconds between telemetry messages (default: %(default)s)"
    )
    group.add_argument(
        "--mqtt-start-broker", action="store_true", help="start a local mosquitto on --mqtt-port for the session"
    )
    group.add_argument("--no-mqtt", action="store_true", help="do not serve the simulator over MQTT")


def telemetry(state: State) -> dict[str, Any]:
    """A device state as the JSON a real device would send: `power_kw` plus its attributes."""
    document: dict[str, Any] = {"power_kw": _number(state.state)}
    for key, value in state.attributes.items():
        if key not in ("unit_of_measurement", "friendly_name"):
            document[key] = value
    document["time"] = state.last_updated.isoformat()
    return document


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class SimMqttServer:
    """Publishes the simulated devices and turns setpoint messages into service calls."""

    def __init__(self, hub: Hub, host: str, port: int, prefix: str, interval: float) -> None:
        self.hub = hub
        self.prefix = prefix.rstrip("/")
        self.interval = interval
        status = f"{self.prefix}/status"
        self.client = MqttClient(
            BrokerSettings(
                host,
                port,
                client_id=f"orbiteos-sim-devices-{id(self):x}",
                birth=Publication(status, "online", qos=1, retain=True),
                will=Publication(status, "offline", qos=1, retain=True),
                will_on_close=True,
            ),
            self._on_message,
        )
        self.published = 0
        self._reverts: dict[str, asyncio.TimerHandle] = {}

    async def serve(self) -> None:
        await self.client.subscribe(f"{self.prefix}/battery/+/set_power", qos=1)
        await self.client.subscribe(f"{self.prefix}/battery/+/auto", qos=1)
        connection = asyncio.create_task(self.client.run(), name="sim-mqtt-connection")
        try:
            await self._publish_loop(connection)
        finally:
            # Telemetry stops first, then the connection closes (saying `offline`).
            self.client.close()
            connection.cancel()
            await asyncio.wait([connection])

    async def _publish_loop(self, connection: asyncio.Task[None]) -> None:
        while True:
            if connection.done():
                connection.result()  # the connection task failed: raise its error
                return
            if self.client.connected:
                try:
                    await self.publish_once()
                except MqttNotConnected as err:
                    _LOGGER.debug("telemetry skipped: %s", err)
            await self.hub.clock.sleep(self.interval)

    async def publish_once(self) -> None:
        for state in self.hub.states.all(PUBLISHED_DOMAINS):
            topic = f"{self.prefix}/{state.domain}/{state.object_id}"
            await self.client.publish(topic, json.dumps(telemetry(state)))
            self.published += 1

    def _on_message(self, message: MqttMessage) -> None:
        parts = message.topic.split("/")
        if len(parts) < 3:
            return
        entity_id = f"battery.{parts[-2]}"
        command = parts[-1]
        if command == "auto":
            self._arm_revert(entity_id, None)
            self.hub.create_task(self._call(entity_id, "auto", {}, message), name=f"sim-mqtt:{entity_id}")
            return
        self._arm_revert(entity_id, _revert_s(message.payload))
        power_kw = _setpoint(message.payload)
        if power_kw is None:
            _LOGGER.warning(
                "battery setpoint on %s: expected a number of kW or {\"power_kw\": x}, found %r; ignored",
                message.topic, message.payload[:100],
            )
            return
        self.hub.create_task(
            self._call(entity_id, "set_power", {"power_kw": power_kw}, message), name=f"sim-mqtt:{entity_id}"
        )

    def _arm_revert(self, entity_id: str, seconds: float | None) -> None:
        """The battery's watchdog: `revert_s` without a new setpoint and it goes back to auto by itself."""
        previous = self._reverts.pop(entity_id, None)
        if previous is not None:
            previous.cancel()
        if seconds:
            self._reverts[entity_id] = self.hub.clock.call_later(seconds, self._fall_back, entity_id, seconds)

    def _fall_back(self, entity_id: str, seconds: float) -> None:
        self._reverts.pop(entity_id, None)
        _LOGGER.warning("%s: no setpoint for %g s over MQTT; back to auto by itself", entity_id, seconds)
        self.hub.create_task(self.hub.services.call("battery", "auto", {"entity_id": entity_id}),
                             name=f"sim-mqtt:{entity_id} fallback")

    async def _call(self, entity_id: str, service: str, data: dict[str, Any], message: MqttMessage) -> None:
        try:
            await self.hub.services.call("battery", service, data, target={"entity_id": entity_id})
        except OrbitEOSError as err:
            _LOGGER.warning("battery.%s from %s failed: %s", service, message.topic, err)
        else:
            _LOGGER.info("battery.%s %s %s (from MQTT %s)", service, entity_id, data, message.topic)


def _revert_s(payload: str) -> float | None:
    parsed = parse_json(payload)
    value = parsed.get("revert_s") if isinstance(parsed, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 86400:
        return float(value)
    return None


def _setpoint(payload: str) -> float | None:
    parsed = parse_json(payload)
    if isinstance(parsed, dict):
        parsed = parsed.get("power_kw")
    if parsed is NOT_JSON or isinstance(parsed, bool) or not isinstance(parsed, int | float):
        return None
    return float(parsed)


async def serve(hub: Hub, args: argparse.Namespace) -> None:
    """Run until cancelled (the `sim-devices` command's contract)."""
    if getattr(args, "no_mqtt", False):
        return
    broker: asyncio.subprocess.Process | None = None
    if args.mqtt_start_broker:
        broker = await _start_mosquitto(args.mqtt_port)
    server = SimMqttServer(hub, args.mqtt_host, args.mqtt_port, args.mqtt_prefix, args.mqtt_interval)
    _LOGGER.info(
        "serving the simulator over MQTT on %s:%s under %s/", args.mqtt_host, args.mqtt_port, server.prefix
    )
    try:
        await server.serve()
    finally:
        if broker is not None and broker.returncode is None:
            broker.terminate()
            await broker.wait()


async def _start_mosquitto(port: int) -> asyncio.subprocess.Process:
    executable = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if shutil.which("/usr/sbin/mosquitto") else None)
    if executable is None:
        raise RuntimeError("--mqtt-start-broker: mosquitto not found (Debian package 'mosquitto', see scripts/setup)")
    process = await asyncio.create_subprocess_exec(
        executable, "-p", str(port), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        # Its own session: Ctrl-C on the terminal must not kill the broker before we have said `offline`.
        start_new_session=True,
    )
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if process.returncode is not None:
                raise RuntimeError(f"mosquitto exited at once (is port {port} taken?)") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return process
    process.terminate()
    raise RuntimeError(f"mosquitto did not accept connections on port {port}")
