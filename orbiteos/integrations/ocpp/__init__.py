"""`ocpp:` an OCPP 1.6J central system; each charger connector becomes an `ev_charger.*` entity.

    ocpp:
      port: 9000
      charge_points:
        - id: depot_cp1
          password: s3cret
"""

from __future__ import annotations

import logging
from typing import Any

import ocpp.messages
import voluptuous as vol

from orbiteos import validation as cv
from orbiteos.core import Hub
from orbiteos.entity import slugify
from orbiteos.integrations.ocpp.central_system import CentralSystem
from orbiteos.integrations.ocpp.charge_point import SystemSettings, quiet_frames_logger
from orbiteos.integrations.ocpp.device import UNIT_AMPS, UNIT_AUTO, UNIT_WATTS, ChargePointSettings
from orbiteos.integrations.ocpp.entities import charger_entity_id
from orbiteos.integrations.ocpp.services import SERVICES, register_services
from orbiteos.integrations.ocpp.sessions import EVENT_OCPP_SESSION

__all__ = ["CONFIG_SCHEMA", "DOMAIN", "EVENT_OCPP_SESSION", "LIVE_ONLY", "SERVICES", "async_setup"]

_LOGGER = logging.getLogger(__name__)

DOMAIN = "ocpp"
# Real sockets and real chargers: not set up in a simulated (virtual-time) run.
LIVE_ONLY = True

_UNIT = cv.one_of(UNIT_AUTO, UNIT_WATTS, UNIT_AMPS)
_ID_TAG = vol.All(cv.string, vol.Length(min=1, max=20, msg="an OCPP id tag is 1 to 20 characters"))


def _charge_point(value: Any) -> dict[str, Any]:
    """`- depot_cp1` is short for `- id: depot_cp1`."""
    if isinstance(value, str):
        value = {"id": value}
    return CHARGE_POINT_SCHEMA(value)  # type: ignore[no-any-return]


def _unique_ids(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids must differ, and so must the entity ids they give (`CP-1` and `cp_1` both give ev_charger.cp_1_*)."""
    seen: dict[str, str] = {}
    for i, cp in enumerate(value):
        slug = slugify(cp["id"])
        if slug in seen:
            same = "appears twice" if seen[slug] == cp["id"] else f"gives the same entity ids as {seen[slug]!r}"
            raise vol.Invalid(f"charge point id {cp['id']!r} {same} (ev_charger.{slug}_*)", path=[i, "id"])
        seen[slug] = cp["id"]
    return value


CHARGE_POINT_SCHEMA = vol.Schema({
    vol.Required("id"): vol.All(cv.string, vol.Match(r"^[^/\s]{1,48}$", msg="expected a charge point id of 1-48 "
                                                                                "characters without '/' or spaces")),
    vol.Optional("password"): vol.All(cv.string, vol.Length(min=1)),
    vol.Optional("name"): cv.string,
    vol.Optional("connectors", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=32)),
    vol.Optional("phases", default=3): cv.one_of(1, 2, 3),
    vol.Optional("voltage", default=230.0): cv.number_in_range(100, 1000),
    # The most a connector may deliver per phase: published as `max_power_kw`, the nature's upper bound.
    vol.Optional("max_current_a", default=32.0): cv.number_in_range(1, 1000),
    vol.Optional("charging_rate_unit"): _UNIT,
})

CONFIG_SCHEMA = vol.Schema({
    vol.Optional("host", default="0.0.0.0"): cv.string,
    vol.Optional("port", default=9000): vol.Any(0, cv.port),
    vol.Required("charge_points"): vol.All(cv.ensure_list, [_charge_point], _unique_ids),
    vol.Optional("id_tags", default=[]): vol.All(cv.ensure_list, [_ID_TAG]),
    vol.Optional("accept_all", default=False): cv.boolean,
    vol.Optional("remote_id_tag", default="orbiteos"): _ID_TAG,
    vol.Optional("call_timeout", default=30): vol.All(cv.positive_time_period, lambda p: p.total_seconds()),
    vol.Optional("heartbeat_interval", default=300): vol.All(
        cv.positive_time_period, lambda p: max(1, int(p.total_seconds()))),
    vol.Optional("ping_interval", default=60): vol.Any(
        None, vol.All(cv.positive_time_period, lambda p: p.total_seconds() or None)),
    # Unit of charging profiles: `auto` asks the charger (ChargingScheduleAllowedChargingRateUnit).
    vol.Optional("charging_rate_unit", default=UNIT_AUTO): _UNIT,
    # The library validates each frame against the OCPP JSON schemas in a thread pool by default;
    # inline is cheaper for frames this small and avoids two thread hops per call (bench/ocpp.py).
    vol.Optional("validate_in_thread", default=False): cv.boolean,
})


def build_central_system(hub: Hub, config: dict[str, Any]) -> CentralSystem:
    settings = SystemSettings(
        heartbeat_interval=config["heartbeat_interval"],
        call_timeout=config["call_timeout"],
        id_tags=frozenset(config["id_tags"]),
        accept_all=config["accept_all"],
        remote_id_tag=config["remote_id_tag"],
    )
    charge_points = [
        ChargePointSettings(
            charge_point_id=cp["id"],
            password=cp.get("password"),
            connectors=cp["connectors"],
            phases=cp["phases"],
            voltage=cp["voltage"],
            max_current_a=cp["max_current_a"],
            charging_rate_unit=cp.get("charging_rate_unit", config["charging_rate_unit"]),
            name=cp.get("name"),
        )
        for cp in config["charge_points"]
    ]
    return CentralSystem(hub, settings, charge_points, host=config["host"], port=config["port"],
                         ping_interval=config["ping_interval"])


def entity_ids(config: dict[str, Any]) -> list[str]:
    """The connectors of the configured charge points, for `orbiteos check` (one that connects
    unannounced adds its own at run time)."""
    return [charger_entity_id(cp["id"], n) for cp in config.get("charge_points", [])
            for n in range(1, cp["connectors"] + 1)]


async def async_setup(hub: Hub, config: dict[str, Any]) -> None:
    """Start the central system's websocket server; the hub stops it."""
    config = CONFIG_SCHEMA(config)  # idempotent: the loader has validated it already
    quiet_frames_logger()
    # A process-wide switch of the `ocpp` library; every OCPP connection in this process follows it.
    ocpp.messages.ASYNC_VALIDATION = config["validate_in_thread"]
    system = build_central_system(hub, config)
    hub.data[DOMAIN] = system
    withdraw = register_services(hub, system)
    await system.start()
    hub.on_stop(system.stop)
    hub.on_stop(withdraw)
