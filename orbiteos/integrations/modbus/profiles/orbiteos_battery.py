"""OrbitEOS battery register map (holding registers from 0): measurements at 0-12, controls at 16-19.

Power is in W, + discharge / - charge; `mode` 0 = automatic, 1 = follow the setpoint at 17-18.
`watchdog` (19, seconds, 0 = off): the battery goes back to automatic by itself when no setpoint
or watchdog write has come for that long (OrbitEOS writes it with every setpoint and renews it).
"""

from __future__ import annotations

from typing import Any

POWER_W = 0  # int32
SOC = 2  # uint16, 0.1 %
SOH = 3  # uint16, 0.1 %
CAPACITY_WH = 4  # uint32
MAX_CHARGE_W = 6  # uint32
MAX_DISCHARGE_W = 8  # uint32
CYCLES = 10  # uint32, 0.01 cycle
TEMPERATURE = 12  # int16, 0.1 degC
MODE = 16  # uint16, read/write
SETPOINT_W = 17  # int32, read/write
WATCHDOG_S = 19  # uint16, read/write, 0 = no watchdog
SIZE = 20  # registers 0..19 are all readable

REGISTERS: dict[str, dict[str, Any]] = {
    "power": {"address": POWER_W, "data_type": "int32", "scale": 0.001},
    "soc": {"address": SOC, "data_type": "uint16", "scale": 0.1},
    "soh": {"address": SOH, "data_type": "uint16", "scale": 0.1},
    "capacity_kwh": {"address": CAPACITY_WH, "data_type": "uint32", "scale": 0.001},
    "max_charge_kw": {"address": MAX_CHARGE_W, "data_type": "uint32", "scale": 0.001},
    "max_discharge_kw": {"address": MAX_DISCHARGE_W, "data_type": "uint32", "scale": 0.001},
    "cycles": {"address": CYCLES, "data_type": "uint32", "scale": 0.01},
    "temperature_c": {"address": TEMPERATURE, "data_type": "int16", "scale": 0.1},
    "mode": {"address": MODE, "data_type": "uint16"},
    "setpoint_kw": {"address": SETPOINT_W, "data_type": "int32", "scale": 0.001},
}
WATCHDOG = {"address": WATCHDOG_S, "data_type": "uint16"}
CONTROLS: dict[str, dict[str, Any]] = {
    "mode": REGISTERS["mode"],
    "set_power": REGISTERS["setpoint_kw"],
    "watchdog": WATCHDOG,
}
