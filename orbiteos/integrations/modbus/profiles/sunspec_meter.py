"""SunSpec grid meter, wye three-phase (model 203), holding registers from 40000: the `SunS` marker,
common model 1, then model 203, then the end marker. W is read + import / - export (the meter
nature's sign); a meter wired the other way round takes `registers: {power: {..., scale: -0.001}}`.
"""

from __future__ import annotations

from typing import Any

from orbiteos.integrations.modbus.profiles.sunspec import BASE, COMMON, SUNS

__all__ = ["BASE", "REGISTERS", "SUNS"]

MODEL_METER = (203, 105)
METER = COMMON + 66 + 2  # the first data register of model 203
END = METER + 105
A, A_SF = METER + 0, METER + 4  # A, then AphA..AphC
PHV, PPV, V_SF = METER + 5, METER + 9, METER + 13  # PhV, PhVphA..C; PPV, PhVphAB..CA
HZ, HZ_SF = METER + 14, METER + 15
W, W_SF = METER + 16, METER + 20  # W, then WphA..WphC
TOT_WH_EXP, TOT_WH_IMP, TOT_WH_SF = METER + 36, METER + 44, METER + 52
EVT = METER + 103


def _point(address: int, sf_address: int, scale: float = 1.0, data_type: str = "int16") -> dict[str, Any]:
    return {"address": address, "data_type": data_type, "sf_address": sf_address, "scale": scale}


REGISTERS: dict[str, dict[str, Any]] = {
    "power": _point(W, W_SF, 0.001),
    "import_kwh": _point(TOT_WH_IMP, TOT_WH_SF, 0.001, "uint32"),
    "export_kwh": _point(TOT_WH_EXP, TOT_WH_SF, 0.001, "uint32"),
    "frequency_hz": _point(HZ, HZ_SF),
    **{f"voltage_l{p}": _point(PHV + p, V_SF) for p in (1, 2, 3)},
    **{f"current_l{p}": _point(A + p, A_SF) for p in (1, 2, 3)},
    **{f"power_l{p}": _point(W + p, W_SF, 0.001) for p in (1, 2, 3)},
}
