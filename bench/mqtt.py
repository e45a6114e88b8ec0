"""MQTT: QoS 0 messages per second from a mosquitto broker into the state machine, against bare aiomqtt.

Starts its own mosquitto on a free loopback port. A device flood (a raw MQTT 3.1.1 socket in a
thread, so the publisher costs the measured loop almost nothing) sends N messages round-robin over
K topics, then an end marker. Measured, each in the same run:

- `aiomqtt_msgs_per_s`: a bare `aiomqtt` client counting messages in `async for`;
- `states_msgs_per_s`: OrbitEOS with K `mqtt:` sensors, counting `state_changed` events
  (every message carries a new value, so every message is a state write);
- `states_template_msgs_per_s`: the same with a `value_template` reading `value_json`.

Rates run from the first message received to the end marker (the consumer is the bottleneck).
Three interleaved rounds of 50,000 messages (one of 20,000 with `--quick`); figures are medians.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import aiomqtt

from orbiteos.core import EVENT_STATE_CHANGED, Hub
from orbiteos.integrations import mqtt
from tests.servers.mosquitto import MosquittoBroker

NAME = "mqtt"
END_TOPIC = "bench/end"


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _remaining_length(len(body)) + body


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _publish(topic: str, payload: bytes) -> bytes:
    return _packet(0x30, _string(topic) + payload)


def flood(host: str, port: int, messages: list[tuple[str, bytes]]) -> threading.Thread:
    """Send `messages` as QoS 0 PUBLISH packets, then the end marker, from a thread."""
    connect = _packet(0x10, _string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big") + _string("bench-flood"))
    data = b"".join(_publish(t, p) for t, p in messages) + _publish(END_TOPIC, b"end") + b"\xe0\x00"

    def send() -> None:
        with socket.create_connection((host, port)) as sock:
            sock.sendall(connect)
            if sock.recv(4)[:1] != b"\x20":
                raise RuntimeError("mosquitto refused the flood connection")
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass

    thread = threading.Thread(target=send, name="mqtt-flood", daemon=True)
    return thread


def _messages(count: int, topics: int, as_json: bool) -> list[tuple[str, bytes]]:
    if as_json:
        return [(f"bench/s/{i % topics}", json.dumps({"power_w": i}).encode()) for i in range(count)]
    return [(f"bench/s/{i % topics}", str(i).encode()) for i in range(count)]


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None

    def tick(self, *_: Any) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.count += 1


async def _bare_aiomqtt(broker: MosquittoBroker, count: int, topics: int) -> dict[str, float]:
    counter = _Counter()
    async with aiomqtt.Client(broker.host, broker.port, identifier="bench-bare") as client:
        await client.subscribe("bench/#")
        thread = flood(broker.host, broker.port, _messages(count, topics, as_json=False))
        thread.start()
        async with asyncio.timeout(300):
            async for message in client.messages:
                if message.topic.value == END_TOPIC:
                    break
                counter.tick()
        end = time.perf_counter()
    thread.join(10)
    return _rate(counter, end, count)


async def _orbiteos(broker: MosquittoBroker, count: int, topics: int, template: bool) -> dict[str, float]:
    hub = Hub()
    sensor: dict[str, Any] = {"unit_of_measurement": "W"} if template else {}
    if template:
        sensor["value_template"] = "{{ value_json.power_w }}"
    config = mqtt.CONFIG_SCHEMA(
        {
            "broker": broker.host,
            "port": broker.port,
            "sensor": [{"name": f"bench {i}", "state_topic": f"bench/s/{i}", **sensor} for i in range(topics)],
        }
    )
    await mqtt.async_setup(hub, config)
    await hub.start()
    counter = _Counter()
    hub.bus.listen(EVENT_STATE_CHANGED, counter.tick)
    done = asyncio.get_running_loop().create_future()
    try:
        async with asyncio.timeout(30):
            await mqtt.get_connection(hub).wait_connected()
        await mqtt.async_subscribe(hub, END_TOPIC, _resolve(done))
        counter.count, counter.first = 0, None
        thread = flood(broker.host, broker.port, _messages(count, topics, as_json=template))
        thread.start()
        async with asyncio.timeout(300):
            await done
        end = time.perf_counter()
        thread.join(10)
    finally:
        await hub.stop()
    return _rate(counter, end, count)


def _resolve(future: asyncio.Future[None]) -> Callable[[Any], None]:
    def on_message(_: Any) -> None:
        if not future.done():
            future.set_result(None)

    return on_message


def _rate(counter: _Counter, end: float, sent: int) -> dict[str, float]:
    elapsed = end - (counter.first or end)
    return {
        "received": counter.count,
        "lost": sent - counter.count,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(counter.count / elapsed) if elapsed > 0 else 0,
    }


async def run(quick: bool) -> dict[str, Any]:
    count = 20_000 if quick else 50_000
    rounds = 1 if quick else 3
    topics = 100
    results: dict[str, list[dict[str, float]]] = {"aiomqtt": [], "states": [], "states_template": []}
    with MosquittoBroker() as broker:
        # Interleaved rounds, so that a burst of load on the shared machine hits all three alike.
        for _ in range(rounds):
            results["aiomqtt"].append(await _bare_aiomqtt(broker, count, topics))
            results["states"].append(await _orbiteos(broker, count, topics, template=False))
            results["states_template"].append(await _orbiteos(broker, count, topics, template=True))
    rates = {name: sorted(r["msgs_per_s"] for r in runs) for name, runs in results.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "parameters": {
            "messages": count, "rounds": rounds, "topics": topics, "qos": 0, "broker": "mosquitto (loopback)"
        },
        "figures": {
            "aiomqtt_msgs_per_s": round(medians["aiomqtt"]),
            "states_msgs_per_s": round(medians["states"]),
            "states_template_msgs_per_s": round(medians["states_template"]),
            "states_vs_aiomqtt": round(medians["states"] / medians["aiomqtt"], 2) if medians["aiomqtt"] else None,
            "all_rounds_msgs_per_s": rates,
            "lost": {name: sum(r["lost"] for r in runs) for name, runs in results.items()},
            "target_states_msgs_per_s": 10_000,
        },
    }
