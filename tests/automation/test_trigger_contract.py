from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol

from orbiteos.automation import trigger as trigger_mod
from orbiteos.automation.trigger import async_attach_triggers, get_platform, validate_triggers
from orbiteos.core import Context, Hub


async def test_attach_triggers_calls_action_with_trigger_variables() -> None:
    hub = Hub()
    seen: list[tuple[dict[str, Any], Context | None]] = []
    detach = await async_attach_triggers(
        hub,
        [{"trigger": "state", "entity_id": "sensor.a", "to": "on", "id": "a-on"},
         {"platform": "numeric_state", "entity_id": "sensor.p", "above": 5}],
        lambda variables, context: seen.append((variables, context)),
        "test",
    )
    hub.states.set("sensor.a", "on")
    hub.states.set("sensor.p", "3")
    hub.states.set("sensor.p", "7")
    assert [v["trigger"]["id"] for v, _ in seen] == ["a-on", "1"]
    assert seen[0][0]["trigger"]["platform"] == "state"
    assert seen[0][0]["trigger"]["to_state"].state == "on"
    assert seen[1][0]["trigger"]["idx"] == "1"
    detach()
    hub.states.set("sensor.a", "off")
    hub.states.set("sensor.a", "on")
    assert len(seen) == 2


async def test_coroutine_action_is_owned_by_the_hub() -> None:
    hub = Hub()
    done: list[str] = []

    async def action(variables: dict[str, Any], context: Context | None) -> None:
        done.append(variables["trigger"]["entity_id"])

    await async_attach_triggers(hub, [{"platform": "state", "entity_id": "sensor.a"}], action, "t")
    hub.states.set("sensor.a", "1")
    await hub.wait_idle()
    assert done == ["sensor.a"]


def test_unknown_platform_is_a_validation_error_naming_it() -> None:
    with pytest.raises(vol.Invalid, match="unknown trigger platform 'nope'"):
        validate_triggers([{"platform": "nope"}])


def test_registered_platform_is_used() -> None:
    class Fake:
        TRIGGER_SCHEMA = vol.Schema({"platform": "fake"})

        async def async_attach(self, hub, config, action, trigger_info):  # noqa: ANN001, ANN201
            return lambda: None

    trigger_mod.register_platform("fake", Fake())
    try:
        assert validate_triggers({"platform": "fake"}) == [{"platform": "fake"}]
        assert isinstance(get_platform("fake"), trigger_mod.TriggerPlatform)
    finally:
        trigger_mod._REGISTRY.pop("fake", None)
