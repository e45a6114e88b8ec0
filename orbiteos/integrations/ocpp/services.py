"""Services: the ev_charger nature (`set_limit`, `start`, `stop`) and the OCPP operations (`ocpp.*`).

The connectors implement the ev_charger Protocol (`OCPPConnector`) and are served by
`orbiteos.natures`, which validates, routes and keeps their limits alive. A limit goes out as a
charging profile whose schedule lasts the command's `revert_s`: if OrbitEOS stops renewing it, the
charger falls back to its default profile by itself (OCPP 1.6 3.13, profile duration).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import voluptuous as vol
from ocpp.v16 import call
from ocpp.v16.enums import (
    AvailabilityType,
    ChargingProfilePurposeType,
    MessageTrigger,
    ResetType,
)

from orbiteos import validation as cv
from orbiteos.core import Hub, ServiceCall, Unsubscribe
from orbiteos.errors import DeviceUnavailable, ServiceValidationError
from orbiteos.integrations.ocpp.central_system import CentralSystem
from orbiteos.integrations.ocpp.charge_point import CentralSystemChargePoint, ChargerCallError
from orbiteos.integrations.ocpp.device import ChargePointDevice
from orbiteos.natures import Command, DeviceDirectory, serve
from orbiteos.natures.contract import SCHEMAS as NATURE_SCHEMAS

_LOGGER = logging.getLogger(__name__)

EV_DOMAIN = "ev_charger"
DOMAIN = "ocpp"
STACK_LEVEL = 1
DEFAULT_PROFILE_ID = 1
TX_PROFILE_ID = 2
# The charger's own fallback: a TxDefaultProfile under the others, with no end (docs/failsafe.md).
FALLBACK_PROFILE_ID = 3
FALLBACK_STACK_LEVEL = 0

Validator = vol.Schema | vol.All

_connector = vol.All(vol.Coerce(int), vol.Range(min=0))


_TARGET = {vol.Exclusive("charge_point_id", "target"): cv.string, vol.Exclusive("entity_id", "target"): cv.entity_ids}


def _ocpp_schema(fields: Mapping[Any, Any]) -> Validator:
    return vol.All(vol.Schema({**_TARGET, **fields}), cv.has_at_least_one_key("charge_point_id", "entity_id"))


OCPP_SCHEMAS: dict[str, Validator] = {
    "change_availability": _ocpp_schema({
        vol.Required("type"): vol.In([t.value for t in AvailabilityType]),
        vol.Optional("connector_id"): _connector,
    }),
    "reset": _ocpp_schema({vol.Optional("type", default=ResetType.soft.value): vol.In([t.value for t in ResetType])}),
    "unlock_connector": _ocpp_schema({vol.Optional("connector_id"): vol.All(vol.Coerce(int), vol.Range(min=1))}),
    "get_configuration": _ocpp_schema({vol.Optional("key"): vol.All(cv.ensure_list, [cv.string])}),
    "change_configuration": _ocpp_schema({vol.Required("key"): cv.string, vol.Required("value"): cv.string}),
    "trigger_message": _ocpp_schema({
        vol.Required("requested_message"): vol.In([m.value for m in MessageTrigger]),
        vol.Optional("connector_id"): _connector,
    }),
    "clear_charging_profile": _ocpp_schema({
        vol.Optional("id"): vol.Coerce(int),
        vol.Optional("connector_id"): _connector,
        vol.Optional("charging_profile_purpose"): vol.In([p.value for p in ChargingProfilePurposeType]),
        vol.Optional("stack_level"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    }),
}

DESCRIPTIONS: dict[str, str] = {
    "ev_charger.set_limit": "Limit charging (power_kw or current_a): SetChargingProfile, TxProfile in a "
    "transaction, TxDefaultProfile otherwise",
    "ev_charger.start": "RemoteStartTransaction on the connector (optional id_tag)",
    "ev_charger.stop": "RemoteStopTransaction of the connector's transaction",
    "ocpp.change_availability": "ChangeAvailability (type Operative/Inoperative, connector_id)",
    "ocpp.reset": "Reset (type Soft/Hard)",
    "ocpp.unlock_connector": "UnlockConnector (connector_id)",
    "ocpp.get_configuration": "GetConfiguration (key list, optional); returns the configuration",
    "ocpp.change_configuration": "ChangeConfiguration (key, value)",
    "ocpp.trigger_message": "TriggerMessage (requested_message, connector_id)",
    "ocpp.clear_charging_profile": "ClearChargingProfile (id, connector_id, charging_profile_purpose, stack_level)",
}


SERVICES: dict[str, dict[str, Validator]] = {
    EV_DOMAIN: dict(NATURE_SCHEMAS[EV_DOMAIN]),
    DOMAIN: OCPP_SCHEMAS,
}


def _connection(device: ChargePointDevice) -> CentralSystemChargePoint:
    if device.connection is None:
        raise DeviceUnavailable(f"charge point {device.charge_point_id} is not connected")
    return device.connection


def _accepted(answer: Any, what: str, device: ChargePointDevice) -> None:
    status = getattr(answer, "status", None)
    if status != "Accepted":
        raise ChargerCallError(f"charge point {device.charge_point_id} answered {what} with status {status}")


async def set_fallback(device: ChargePointDevice, connector_id: int, fallback: Mapping[str, Any]) -> None:
    """Install the limit the charger keeps when no other profile is in force (once per connection)."""
    limit = device.limit(fallback.get("power_kw"), fallback.get("current_a"))
    key = (id(device.connection), connector_id)
    if device.fallback_sent.get(key) == limit:
        return
    profile = {
        "chargingProfileId": FALLBACK_PROFILE_ID,
        "stackLevel": FALLBACK_STACK_LEVEL,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": limit.unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit.value}],
        },
    }
    answer = await _connection(device).request(
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile)
    )
    _accepted(answer, "SetChargingProfile TxDefaultProfile (fallback)", device)
    device.fallback_sent[key] = limit
    _LOGGER.info("%s: fallback limit %s %s on connector %s", device.charge_point_id, limit.value, limit.unit,
                 connector_id)


async def set_limit(
    system: CentralSystem, device: ChargePointDevice, connector_id: int, power_kw: float | None,
    current_a: float | None, duration_s: float | None = None,
) -> None:
    limit = device.limit(power_kw, current_a)
    tx = system.sessions.on_connector(device.charge_point_id, connector_id)
    profile: dict[str, Any] = {
        "chargingProfileId": TX_PROFILE_ID if tx else DEFAULT_PROFILE_ID,
        "stackLevel": STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile" if tx else "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": limit.unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit.value}],
        },
    }
    if duration_s is not None:
        # Relative schedules start when the charger receives them; past `duration` the charger
        # falls back to the next profile in its stack (the charge point's own default).
        profile["chargingSchedule"]["duration"] = max(1, round(duration_s))
    if tx is not None:
        profile["transactionId"] = tx.transaction_id
    answer = await _connection(device).request(
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile)
    )
    _accepted(answer, f"SetChargingProfile {profile['chargingProfilePurpose']}", device)
    if tx is None:
        device.default_limit_kw[connector_id] = limit.limit_kw
    entity = device.connector(connector_id)
    entity.limit_kw = limit.limit_kw
    entity.write_state()
    _LOGGER.info("%s: limit %s %s (%s kW) on connector %s", device.charge_point_id, limit.value, limit.unit,
                 limit.limit_kw, connector_id)


async def remote_start(system: CentralSystem, device: ChargePointDevice, connector_id: int, id_tag: str | None) -> None:
    answer = await _connection(device).request(
        call.RemoteStartTransaction(id_tag=id_tag or system.settings.remote_id_tag, connector_id=connector_id)
    )
    _accepted(answer, "RemoteStartTransaction", device)


async def remote_stop(system: CentralSystem, device: ChargePointDevice, connector_id: int) -> None:
    tx = system.sessions.on_connector(device.charge_point_id, connector_id)
    if tx is None:  # nothing is charging: stopped already, as on every other provider
        _LOGGER.info("%s: ev_charger.stop: no transaction on connector %s", device.charge_point_id, connector_id)
        return
    answer = await _connection(device).request(call.RemoteStopTransaction(transaction_id=tx.transaction_id))
    _accepted(answer, "RemoteStopTransaction", device)


class OCPPConnector:
    """One connector of an OCPP charge point, as an ev_charger nature device."""

    def __init__(self, system: CentralSystem, device: ChargePointDevice, connector_id: int) -> None:
        self.system = system
        self.device = device
        self.connector_id = connector_id

    def _accept(self, command: Command) -> None:
        entity = self.device.connector(self.connector_id)
        entity.ownership = dict(command.attributes)
        entity.set_context(command.context)
        entity.write_state()

    async def set_limit(self, power_kw: float | None, current_a: float | None, command: Command) -> None:
        if command.fallback is not None and command.revert_s is not None:
            await set_fallback(self.device, self.connector_id, command.fallback)
        await set_limit(self.system, self.device, self.connector_id, power_kw, current_a, command.revert_s)
        self._accept(command)

    async def start(self, id_tag: str | None, command: Command) -> None:
        await remote_start(self.system, self.device, self.connector_id, id_tag)
        self._accept(command)

    async def stop(self, command: Command) -> None:
        await remote_stop(self.system, self.device, self.connector_id)
        self._accept(command)


def connectors(system: CentralSystem) -> DeviceDirectory:
    """The central system's connectors as nature devices; chargers add connectors as they name them."""
    adapters: dict[str, OCPPConnector] = {}

    def lookup(entity_id: str) -> OCPPConnector | None:
        adapter = adapters.get(entity_id)
        if adapter is None:
            found = system.device_of_entity(entity_id)
            if found is None:
                return None
            adapter = adapters[entity_id] = OCPPConnector(system, *found)
        return adapter

    def entity_ids() -> list[str]:
        return [entity.entity_id for device in system.devices.values() for entity in device.entities.values()]

    return DeviceDirectory(lookup, entity_ids)


def _resolve(system: CentralSystem, data: Mapping[str, Any], service: str) -> tuple[ChargePointDevice, int | None]:
    if "charge_point_id" in data:
        device = system.devices.get(data["charge_point_id"])
        if device is None:
            raise ServiceValidationError(
                f"ocpp.{service}: charge_point_id: unknown charge point {data['charge_point_id']!r}, "
                f"expected one of {', '.join(sorted(system.devices)) or 'none configured'}"
            )
        return device, None
    entity_ids = data["entity_id"]
    if len(entity_ids) != 1:
        raise ServiceValidationError(f"ocpp.{service}: entity_id: expected one OCPP charger, found {entity_ids}")
    found = system.device_of_entity(entity_ids[0])
    if found is None:
        raise ServiceValidationError(f"ocpp.{service}: entity_id: {entity_ids[0]} is not an OCPP charger")
    return found


def _ocpp_payload(service: str, data: Mapping[str, Any], connector_id: int | None) -> Any:
    connector = data.get("connector_id", connector_id)
    if service == "change_availability":
        return call.ChangeAvailability(connector_id=connector or 0, type=data["type"])
    if service == "reset":
        return call.Reset(type=data["type"])
    if service == "unlock_connector":
        if connector is None:
            raise ServiceValidationError("ocpp.unlock_connector: connector_id: required with charge_point_id")
        return call.UnlockConnector(connector_id=connector)
    if service == "get_configuration":
        return call.GetConfiguration(key=data.get("key"))
    if service == "change_configuration":
        return call.ChangeConfiguration(key=data["key"], value=data["value"])
    if service == "trigger_message":
        return call.TriggerMessage(requested_message=data["requested_message"], connector_id=connector)
    return call.ClearChargingProfile(
        id=data.get("id"), connector_id=connector, charging_profile_purpose=data.get("charging_profile_purpose"),
        stack_level=data.get("stack_level"),
    )


def _ocpp_service(hub: Hub, system: CentralSystem, service: str) -> None:
    async def handle(service_call: ServiceCall) -> dict[str, Any]:
        device, connector_id = _resolve(system, service_call.data, service)
        asked = service_call.data.get("connector_id")
        if asked is not None and asked > device.settings.connectors:
            raise ServiceValidationError(
                f"ocpp.{service}: connector_id: expected 0 to {device.settings.connectors} "
                f"(charge point {device.charge_point_id}), got {asked}"
            )
        payload = _ocpp_payload(service, service_call.data, connector_id)
        answer = await _connection(device).request(payload)
        result = {k: v for k, v in asdict(answer).items() if v is not None}
        if result.get("status") not in (None, "Accepted", "Unlocked"):
            _LOGGER.warning("%s: %s answered %s", device.charge_point_id, service, result)
        return result

    schema = vol.Schema(OCPP_SCHEMAS[service])
    hub.services.register(DOMAIN, service, handle, schema, DESCRIPTIONS[f"{DOMAIN}.{service}"])


def register_services(hub: Hub, system: CentralSystem) -> Unsubscribe:
    withdraw = serve(hub, EV_DOMAIN, DOMAIN, connectors(system))
    for service in OCPP_SCHEMAS:
        _ocpp_service(hub, system, service)
    return withdraw
