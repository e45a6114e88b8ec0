"""The `mqtt` automation trigger against a real mosquitto."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import pytest
import voluptuous as vol

from orbiteos.automation.trigger import async_attach_triggers, validate_triggers
from orbiteos.core import Context, Hub
from tests.integrations.mqtt.conftest import SetupMqtt, round_trip


class Runs:
    """Collects the `trigger` variable of every run."""

    def __init__(self) -> None:
        self.triggers: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, run_variables: dict[str, Any], context: Context | None) -> None:
        self.triggers.append(run_variables["trigger"])
        self._changed.set()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(10):
            while len(self.triggers) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.triggers


async def attach(hub: Hub, *triggers: dict[str, Any], variables: dict[str, Any] | None = None) -> Runs:
    runs = Runs()
    await async_attach_triggers(hub, list(triggers), runs, "test", variables)
    return runs


async def test_trigger_fires_on_its_topic_with_payload_and_json(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt()
    runs = await attach(hub, {"platform": "mqtt", "topic": "site/alarm", "id": "alarm"})
    await publisher.publish("site/other", "no")
    await publisher.publish("site/alarm", json.dumps({"level": 2}))
    [trigger] = await runs.wait_for(1)
    assert trigger["platform"] == "mqtt"
    assert trigger["id"] == "alarm"
    assert trigger["topic"] == "site/alarm"
    assert trigger["payload"] == '{"level": 2}'
    assert trigger["payload_json"] == {"level": 2}
    assert trigger["qos"] == 0


async def test_trigger_topic_wildcards_match_levels(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt()
    plus = await attach(hub, {"platform": "mqtt", "topic": "chargers/+/status"})
    hash_ = await attach(hub, {"trigger": "mqtt", "topic": "chargers/#"})
    await publisher.publish("chargers/cp1/status", "Charging")
    await publisher.publish("chargers/cp2/meter/power", "7.4")
    await publisher.publish("chargers/cp3/status", "Available")
    await hash_.wait_for(3)
    await round_trip(hub, publisher)
    assert [t["topic"] for t in plus.triggers] == ["chargers/cp1/status", "chargers/cp3/status"]
    assert [t["payload"] for t in hash_.triggers] == ["Charging", "7.4", "Available"]
    assert "payload_json" not in plus.triggers[0]


async def test_trigger_payload_must_match(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt()
    runs = await attach(hub, {"platform": "mqtt", "topic": "door", "payload": "open"})
    for payload in ("closed", "open", "OPEN", "open"):
        await publisher.publish("door", payload)
    await round_trip(hub, publisher)
    assert [t["payload"] for t in runs.triggers] == ["open", "open"]


async def test_trigger_value_template_is_compared_with_payload(
    setup_mqtt: SetupMqtt, publisher: aiomqtt.Client
) -> None:
    hub = await setup_mqtt()
    runs = await attach(
        hub,
        {"platform": "mqtt", "topic": "ev/+/state", "payload": "Charging", "value_template": "{{ value_json.status }}"},
    )
    await publisher.publish("ev/cp1/state", json.dumps({"status": "Available"}))
    await publisher.publish("ev/cp1/state", "garbage")  # logged, no run
    await publisher.publish("ev/cp2/state", json.dumps({"status": "Charging", "power_kw": 11}))
    [trigger] = await runs.wait_for(1)
    await round_trip(hub, publisher)
    assert len(runs.triggers) == 1
    assert trigger["topic"] == "ev/cp2/state"
    assert trigger["payload_json"]["power_kw"] == 11


async def test_trigger_topic_may_use_trigger_variables(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt()
    runs = await attach(hub, {"platform": "mqtt", "topic": "site/{{ site }}/alarm"}, variables={"site": "depot"})
    await publisher.publish("site/school/alarm", "x")
    await publisher.publish("site/depot/alarm", "y")
    [trigger] = await runs.wait_for(1)
    assert trigger["topic"] == "site/depot/alarm"


async def test_detached_trigger_no_longer_fires(setup_mqtt: SetupMqtt, publisher: aiomqtt.Client) -> None:
    hub = await setup_mqtt()
    runs = Runs()
    detach = await async_attach_triggers(hub, [{"platform": "mqtt", "topic": "t"}], runs, "test")
    await publisher.publish("t", "1")
    await runs.wait_for(1)
    detach()
    await publisher.publish("t", "2")
    await round_trip(hub, publisher)
    assert [t["payload"] for t in runs.triggers] == ["1"]


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"platform": "mqtt", "topic": "a/#/b"}, "'#' must be the whole last level"),
        ({"platform": "mqtt", "topic": "a/b+"}, "'+' must fill a whole level"),
        ({"platform": "mqtt", "topic": "a", "qos": 3}, "expected one of 0, 1, 2"),
        ({"platform": "mqtt", "topic": "a", "encoding": "klingon"}, "expected a text encoding"),
    ],
)
def test_trigger_config_errors_say_what_was_expected(trigger: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid) as caught:
        validate_triggers([trigger])
    assert message in str(caught.value)
