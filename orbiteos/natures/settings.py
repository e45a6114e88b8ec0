"""The site's `failsafe:` block: which inputs control depends on, how long they may be lost, the
safe state of each device, and the timing of keep-alives and device-side reverts (docs/failsafe.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from orbiteos.natures.contract import CONTROLLABLE, SCHEMAS
from orbiteos.validation import boolean, entity_id, entity_ids, found, time_period


@dataclass(frozen=True, slots=True)
class SafeState:
    """A nature service call that puts a device in its safe state (`service` None: leave it as it is)."""

    service: str | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.service is None:
            return "unchanged"
        values = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.data.items())
        return f"{self.service}({values})" if values else self.service


UNCHANGED = SafeState(None)
DEFAULT_SAFE_STATES: dict[str, SafeState] = {
    "battery": SafeState("auto"),
    "ev_charger": SafeState("set_limit", {"current_a": 6.0}),
    "pv": UNCHANGED,
}


def _safe_state(domain: str) -> Any:
    def validate(value: Any) -> SafeState:
        if isinstance(value, SafeState):  # validated already (the loader's pass, then set-up's)
            return value
        if value in ("unchanged", None):
            return UNCHANGED
        if value == "auto" and domain == "battery":
            return SafeState("auto")
        if value == "stop" and domain == "ev_charger":
            return SafeState("stop")
        if not isinstance(value, Mapping):
            words = {"battery": "'auto', 'unchanged' or {power_kw: x}",
                     "ev_charger": "'stop', 'unchanged', {current_a: x} or {power_kw: x}",
                     "pv": "'unchanged', {percent: x} or {power_kw: x}"}[domain]
            raise vol.Invalid(f"expected {words}, found {found(value)}")
        service = "set_power" if domain == "battery" else "set_limit"
        checked = SCHEMAS[domain][service]({**value, "entity_id": f"{domain}.x"})
        return SafeState(service, {k: v for k, v in checked.items() if k != "entity_id"})

    return validate


def _seconds(value: Any) -> float:
    return time_period(value).total_seconds()


def _device_states(value: Any) -> dict[str, SafeState]:
    if not isinstance(value, Mapping):
        raise vol.Invalid(f"expected a mapping of entity id to safe state, found {found(value)}")
    states: dict[str, SafeState] = {}
    for key, state in value.items():
        device = entity_id(key)
        domain = device.partition(".")[0]
        if domain not in CONTROLLABLE:
            raise vol.Invalid(f"expected a battery, pv or ev_charger entity, found {device}", path=[key])
        try:
            states[device] = _safe_state(domain)(state)
        except vol.Invalid as err:
            err.prepend([key])
            raise
    return states


def _revert_after_keepalive(config: dict[str, Any]) -> dict[str, Any]:
    if config["revert_after"] <= config["keepalive"]:
        raise vol.Invalid(
            f"expected revert_after ({config['revert_after']:g} s) longer than keepalive "
            f"({config['keepalive']:g} s), or the devices would fall back between renewals",
            path=["revert_after"],
        )
    return config


SCHEMA = vol.All(
    vol.Schema({
        vol.Optional("enabled", default=True): boolean,
        vol.Optional("inputs"): entity_ids,
        vol.Optional("after", default=10.0): vol.All(_seconds, vol.Range(min=0.0)),
        vol.Optional("stale_after", default=30.0): vol.All(_seconds, vol.Range(min=1.0)),
        vol.Optional("keepalive", default=15.0): vol.All(_seconds, vol.Range(min=0.5)),
        vol.Optional("revert_after", default=60.0): vol.All(_seconds, vol.Range(min=1.0)),
        vol.Optional("priority_hold", default=10.0): vol.All(_seconds, vol.Range(min=0.0)),
        vol.Optional("conflict_window", default=30.0): vol.All(_seconds, vol.Range(min=0.0)),
        vol.Optional("safe_state", default={}): vol.Schema({
            vol.Optional(domain): _safe_state(domain) for domain in CONTROLLABLE
        }),
        vol.Optional("devices", default={}): _device_states,
    }),
    _revert_after_keepalive,
)


@dataclass(frozen=True)
class FailsafeSettings:
    enabled: bool = True
    inputs: tuple[str, ...] | None = None  # None: every meter.* entity
    after_s: float = 10.0
    stale_after_s: float = 30.0
    keepalive_s: float = 15.0
    revert_after_s: float = 60.0
    priority_hold_s: float = 10.0
    conflict_window_s: float = 30.0
    safe_states: Mapping[str, SafeState] = field(default_factory=lambda: dict(DEFAULT_SAFE_STATES))
    devices: Mapping[str, SafeState] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> FailsafeSettings:
        config = SCHEMA(dict(config or {}))
        return cls(
            enabled=config["enabled"],
            inputs=tuple(config["inputs"]) if "inputs" in config else None,
            after_s=config["after"],
            stale_after_s=config["stale_after"],
            keepalive_s=config["keepalive"],
            revert_after_s=config["revert_after"],
            priority_hold_s=config["priority_hold"],
            conflict_window_s=config["conflict_window"],
            safe_states={**DEFAULT_SAFE_STATES, **config["safe_state"]},
            devices=config["devices"],
        )

    def safe_state(self, device: str) -> SafeState:
        if device in self.devices:
            return self.devices[device]
        return self.safe_states.get(device.partition(".")[0], UNCHANGED)
