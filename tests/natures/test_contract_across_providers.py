"""The nature contract is one contract: the same call gets the same answer from the simulator, a
Modbus device, an MQTT battery and an OCPP charger, valid calls and invalid ones alike; and the
device's state write that acknowledges a setpoint carries the call's context."""

from __future__ import annotations

from typing import Any

import pytest

from orbiteos.core import Context
from orbiteos.errors import OrbitEOSError
from tests.natures.conftest import ENTITY_OF, PROVIDERS, SiteFactory, wait_state

OK = "ok"

# (service, data, the answer every provider gives). `{e}` is the device's entity id.
CASES: dict[str, list[tuple[str, dict[str, Any], str]]] = {
    "battery": [
        ("set_power", {"power_kw": 2.5}, OK),
        ("set_power", {"power_kw": -5}, OK),
        ("set_power", {"power_kw": 6},
         "battery.set_power: power_kw: {e} can discharge at most 5 kW, found 6"),
        ("set_power", {"power_kw": -7.5},
         "battery.set_power: power_kw: {e} can charge at most 5 kW (power_kw >= -5), found -7.5"),
        ("set_power", {"power_kw": "nan"}, "battery.set_power: power_kw: expected a finite number, found 'nan'"),
        ("set_power", {"power_kw": "lots"}, "battery.set_power: power_kw: expected a number, found 'lots'"),
        ("set_power", {}, "battery.set_power: power_kw: required key not provided"),
        ("set_power", {"power_kw": 1, "mode": "x"}, "battery.set_power: mode: extra keys not allowed"),
        ("auto", {}, OK),
        ("auto", {"power_kw": 1}, "battery.auto: power_kw: extra keys not allowed"),
    ],
    "pv": [
        ("set_limit", {"percent": 50}, OK),
        ("set_limit", {"power_kw": 4}, OK),
        ("set_limit", {"percent": 150}, "pv.set_limit: percent: expected a number <= 100, found 150"),
        ("set_limit", {"power_kw": -5}, "pv.set_limit: power_kw: expected a number >= 0, found -5"),
        ("set_limit", {"power_kw": 11},
         "pv.set_limit: power_kw: {e} is rated 10 kW, found 11; use percent: 100 to lift the limit"),
        ("set_limit", {"power_kw": 4, "percent": 40},
         "pv.set_limit: expected exactly one of power_kw, percent, found power_kw, percent"),
        ("set_limit", {}, "pv.set_limit: expected exactly one of power_kw, percent, found none"),
        ("set_limit", {"percent": 100}, OK),
    ],
    "ev_charger": [
        ("set_limit", {"current_a": 10}, OK),
        ("set_limit", {"power_kw": 7}, OK),
        ("set_limit", {"power_kw": 30}, "ev_charger.set_limit: power_kw: {e} charges at most 22.08 kW, found 30"),
        ("set_limit", {"current_a": -1}, "ev_charger.set_limit: current_a: expected a number >= 0, found -1"),
        ("set_limit", {"power_kw": 7, "current_a": 10},
         "ev_charger.set_limit: expected exactly one of power_kw, current_a, found power_kw, current_a"),
        ("start", {"id_tag": "TAG0001"}, OK),
        ("start", {"id_tag": "X" * 21}, "ev_charger.start: id_tag: length of value must be at most 20"),
        ("stop", {}, OK),
        ("stop", {"reason": "x"}, "ev_charger.stop: reason: extra keys not allowed"),
    ],
}

# What a valid call leaves on the device itself (on the devices' side of the protocol).
EFFECTS: dict[tuple[str, str, str], tuple[str, Any]] = {
    ("battery", "set_power", "2.5"): ("setpoint_kw", 2.5),
    ("pv", "set_limit", "{'power_kw': 4}"): ("limit_kw", 4.0),
    ("ev_charger", "set_limit", "{'current_a': 10}"): ("limit_kw", 6.9),
}


async def _answer(hub: Any, domain: str, service: str, data: dict[str, Any], entity_id: str) -> str:
    try:
        await hub.services.call(domain, service, {**data, "entity_id": entity_id})
    except OrbitEOSError as err:
        return str(err)
    return OK


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_same_call_gets_the_same_answer_from_every_provider(site_over: SiteFactory, provider: str) -> None:
    site = await site_over(provider)
    for nature in site.natures:
        entity_id = ENTITY_OF[nature]
        for service, data, expected in CASES[nature]:
            answer = await _answer(site.engine, nature, service, data, entity_id)
            assert answer == expected.format(e=entity_id), f"{provider}: {nature}.{service} {data}"
            effect = EFFECTS.get((nature, service, str(data.get("power_kw", data))))
            if effect is not None:
                attribute, value = effect
                await wait_state(site.devices, entity_id, lambda s, a=attribute, v=value: s.attributes.get(a) == v,
                                 f"{attribute} == {value} on the device after {nature}.{service} {data}")


@pytest.mark.parametrize("provider", ["sim", "modbus", "mqtt"])
async def test_the_state_write_acknowledging_a_setpoint_carries_the_calls_context(
    site_over: SiteFactory, provider: str
) -> None:
    site = await site_over(provider)
    context = Context(user_id="ops")
    await site.engine.services.call("battery", "set_power", {"entity_id": "battery.main", "power_kw": -3.5},
                                    context=context)
    state = await wait_state(site.engine, "battery.main", lambda s: s.attributes.get("setpoint_kw") == -3.5,
                             "acknowledging the setpoint")
    assert state.context.id == context.id
    assert state.attributes["setpoint_source"] == "user:ops"


async def test_ocpp_acknowledgement_carries_the_calls_context(site_over: SiteFactory) -> None:
    site = await site_over("ocpp")
    context = Context(user_id="ops")
    await site.engine.services.call("ev_charger", "set_limit", {"entity_id": "ev_charger.depot_1", "power_kw": 5},
                                    context=context)
    state = await wait_state(site.engine, "ev_charger.depot_1", lambda s: s.attributes.get("limit_kw") == 5.0)
    assert state.context.id == context.id and state.attributes["setpoint_source"] == "user:ops"
