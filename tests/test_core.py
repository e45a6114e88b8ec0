from __future__ import annotations

import pytest
import voluptuous as vol

from orbiteos.core import EVENT_CALL_SERVICE, Context, Hub, ServiceCall, State
from orbiteos.errors import DeviceUnavailable, ServiceNotFound, ServiceValidationError


async def test_same_state_and_attributes_again_fires_nothing() -> None:
    hub = Hub()
    seen: list[str] = []
    hub.bus.listen("state_changed", lambda e: seen.append(e.data["new_state"].state))
    hub.states.set("sensor.a", 1.5, {"unit": "kW"})
    hub.states.set("sensor.a", "1.5", {"unit": "kW"})
    hub.states.set("sensor.a", 1.5, {"unit": "W"})
    assert seen == ["1.5", "1.5"]


async def test_attribute_only_change_keeps_last_changed() -> None:
    hub = Hub()
    first = hub.states.set("sensor.a", "1")
    second = hub.states.set("sensor.a", "1", {"x": 1})
    assert second.last_changed == first.last_changed
    assert second.last_updated >= first.last_updated


async def test_state_is_immutable() -> None:
    hub = Hub()
    state = hub.states.set("sensor.a", "1", {"x": 1})
    assert isinstance(state, State)
    with pytest.raises(AttributeError):
        state.state = "2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        state.attributes["x"] = 2  # type: ignore[index]


async def test_indexed_listeners_see_only_their_entities() -> None:
    hub = Hub()
    calls: dict[str, int] = {}
    wrong: list[str] = []

    def make(watched: str):  # noqa: ANN202
        def listener(event):  # noqa: ANN001, ANN202
            if event.data["entity_id"] != watched:
                wrong.append(event.data["entity_id"])
            calls[watched] = calls.get(watched, 0) + 1

        return listener

    for i in range(1000):
        hub.states.listen(f"sensor.s{i}", make(f"sensor.s{i}"))
    for n in range(10_000):
        hub.states.set(f"sensor.s{n % 1000}", n)
    assert wrong == []
    assert sum(calls.values()) == 10_000
    assert all(count == 10 for count in calls.values())


async def test_unsubscribe_stops_listener() -> None:
    hub = Hub()
    seen: list[int] = []
    unsub = hub.states.listen("sensor.a", lambda e: seen.append(1))
    hub.states.set("sensor.a", 1)
    unsub()
    hub.states.set("sensor.a", 2)
    assert seen == [1]


async def test_failing_listener_does_not_stop_others() -> None:
    hub = Hub()
    seen: list[int] = []

    def broken(event):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    hub.states.listen("sensor.a", broken)
    hub.states.listen("sensor.a", lambda e: seen.append(1))
    hub.states.set("sensor.a", 1)
    assert seen == [1]


async def test_service_target_merged_and_schema_applied() -> None:
    hub = Hub()
    received = []
    hub.services.register(
        "battery",
        "set_power",
        lambda call: received.append(dict(call.data)),
        schema=vol.Schema({vol.Required("power_kw"): vol.Coerce(float), "entity_id": [str]}),
    )
    await hub.services.call("battery", "set_power", {"power_kw": "5"}, target={"entity_id": "battery.main"})
    assert received == [{"power_kw": 5.0, "entity_id": ["battery.main"]}]


async def test_unknown_service_names_it() -> None:
    hub = Hub()
    with pytest.raises(ServiceNotFound, match="battery.explode"):
        await hub.services.call("battery", "explode")


async def test_schema_error_names_field() -> None:
    hub = Hub()
    hub.services.register(
        "pv", "set_limit", lambda call: None, schema=vol.Schema({vol.Required("power_kw"): vol.Coerce(float)})
    )
    with pytest.raises(ServiceValidationError, match="power_kw"):
        await hub.services.call("pv", "set_limit", {"power_kw": "lots"})


async def test_dry_run_records_unknown_service_as_unhandled() -> None:
    hub = Hub()
    hub.services.dry_run_unknown = True
    calls = []
    hub.bus.listen(EVENT_CALL_SERVICE, lambda e: calls.append(dict(e.data)))
    ctx = Context()
    await hub.services.call("ev_charger", "stop", target={"entity_id": ["ev_charger.a"]}, context=ctx)
    assert calls == [
        {"domain": "ev_charger", "service": "stop", "service_data": {"entity_id": ["ev_charger.a"]},
         "handled": False}
    ]


async def test_stop_cancels_owned_tasks() -> None:
    import asyncio

    hub = Hub()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await hub.start()
    hub.create_task(forever())
    await asyncio.sleep(0)
    await hub.stop()
    assert cancelled.is_set()
    assert hub.pending_tasks == 0


async def test_entity_services_split_a_call_between_providers() -> None:
    hub = Hub()
    sim_calls: list[dict] = []
    modbus_calls: list[dict] = []
    hub.services.register_for_entities(
        "battery", "set_power", lambda call: sim_calls.append(dict(call.data)), lambda e: e == "battery.sim",
        schema=vol.Schema({vol.Required("power_kw"): vol.Coerce(float), "entity_id": [str]}),
    )
    hub.services.register_for_entities(
        "battery", "set_power", lambda call: modbus_calls.append(dict(call.data)), lambda e: e.endswith("_mb"),
    )
    await hub.services.call("battery", "set_power", {"power_kw": "3"},
                            target={"entity_id": ["battery.sim", "battery.b_mb"]})
    assert sim_calls == [{"power_kw": 3.0, "entity_id": ["battery.sim"]}]
    assert modbus_calls == [{"power_kw": "3", "entity_id": ["battery.b_mb"]}]


async def test_entity_service_names_an_entity_nobody_provides() -> None:
    hub = Hub()
    hub.services.register_for_entities("pv", "set_limit", lambda call: None, lambda e: e == "pv.roof")
    with pytest.raises(ServiceValidationError, match="no device provides pv.carport"):
        await hub.services.call("pv", "set_limit", {"percent": 50}, target={"entity_id": ["pv.roof", "pv.carport"]})
    with pytest.raises(ServiceValidationError, match="entity_id: required"):
        await hub.services.call("pv", "set_limit", {"percent": 50})


async def test_entity_service_provider_schema_error_names_field() -> None:
    hub = Hub()
    hub.services.register_for_entities(
        "pv", "set_limit", lambda call: None, lambda e: True,
        schema=vol.Schema({vol.Required("power_kw"): vol.Coerce(float), "entity_id": [str]}),
    )
    with pytest.raises(ServiceValidationError, match="power_kw"):
        await hub.services.call("pv", "set_limit", {"power_kw": "much"}, target={"entity_id": "pv.roof"})


async def test_entity_service_error_lists_the_entities_providers_do_claim() -> None:
    hub = Hub()
    hub.states.set("battery.sim", "0")
    hub.states.set("battery.b_mb", "0")
    hub.states.set("battery.nobodys", "0")
    hub.services.register_for_entities("battery", "auto", lambda call: None, lambda e: e == "battery.sim")
    hub.services.register_for_entities("battery", "auto", lambda call: None, lambda e: e.endswith("_mb"))
    with pytest.raises(ServiceValidationError,
                       match=r"no device provides battery.other \(provided: battery.b_mb, battery.sim\)$"):
        await hub.services.call("battery", "auto", {"entity_id": "battery.other"})


async def test_entity_service_provider_failing_does_not_keep_the_others_share_back() -> None:
    hub = Hub()
    reached: list[list[str]] = []

    async def broken(call: ServiceCall) -> None:
        raise DeviceUnavailable("modbus battery offline")

    hub.services.register_for_entities("battery", "auto", broken, lambda e: e == "battery.b_mb")
    hub.services.register_for_entities("battery", "auto", lambda call: reached.append(call.entity_ids),
                                       lambda e: e == "battery.sim")
    with pytest.raises(DeviceUnavailable, match="offline"):
        await hub.services.call("battery", "auto", {"entity_id": ["battery.b_mb", "battery.sim"]})
    assert reached == [["battery.sim"]]


async def test_entity_service_bad_share_reaches_no_provider() -> None:
    hub = Hub()
    reached: list[list[str]] = []
    hub.services.register_for_entities("battery", "set_power", lambda call: reached.append(call.entity_ids),
                                       lambda e: e == "battery.sim")
    hub.services.register_for_entities(
        "battery", "set_power", lambda call: reached.append(call.entity_ids), lambda e: e == "battery.b_mb",
        schema=vol.Schema({vol.Required("power_kw"): vol.All(vol.Coerce(float), vol.Range(max=10)),
                           "entity_id": [str]}),
    )
    with pytest.raises(ServiceValidationError, match="power_kw"):
        await hub.services.call("battery", "set_power", {"entity_id": ["battery.sim", "battery.b_mb"], "power_kw": 50})
    assert reached == []


async def test_stop_cancels_again_a_task_that_swallowed_a_cancellation() -> None:
    import asyncio

    hub = Hub()
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(1)  # as a lost cancellation inside wait_for would look
        await asyncio.sleep(3600)

    await hub.start()
    task = hub.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await hub.stop()
    assert swallowed == [1]
    assert task.cancelled()


async def test_a_swallowed_cancellation_is_raised_again() -> None:
    import asyncio

    from orbiteos.core import raise_if_cancel_lost

    reached = []

    async def library_that_swallows() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # what Python 3.11's wait_for does when the cancel races its inner future

    async def caller() -> None:
        await library_that_swallows()
        raise_if_cancel_lost()
        reached.append("after")

    task = asyncio.get_running_loop().create_task(caller())
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert reached == []


async def test_plain_registration_over_entity_routing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub()
    hub.services.register_for_entities("battery", "auto", lambda call: None, lambda e: True)
    hub.services.register_for_entities("battery", "auto", lambda call: None, lambda e: False)
    assert "replaces the per-entity routing" not in caplog.text
    hub.services.register("battery", "auto", lambda call: None)
    assert "battery.auto: a plain registration replaces the per-entity routing of 2 provider(s)" in caplog.text
