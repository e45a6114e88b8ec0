"""Device natures: one contract (services, schemas, units, signs) for every provider of a battery,
PV inverter or EV charger, with the setpoint ownership, keep-alive and fail-safe that keep a site
safe whatever the device is behind. See docs/failsafe.md and docs/architecture.md."""

from orbiteos.natures.contract import (
    CONTROLLABLE,
    NATURE_DOMAINS,
    SCHEMAS,
    BatteryDevice,
    Command,
    EVChargerDevice,
    PVDevice,
)
from orbiteos.natures.layer import NatureLayer, nature_layer
from orbiteos.natures.server import DeviceDirectory, serve

__all__ = [
    "CONTROLLABLE",
    "NATURE_DOMAINS",
    "SCHEMAS",
    "BatteryDevice",
    "Command",
    "DeviceDirectory",
    "EVChargerDevice",
    "NatureLayer",
    "PVDevice",
    "nature_layer",
    "serve",
]
