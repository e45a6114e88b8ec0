"""Eastron SDM630 (Modbus edition): input registers, IEEE 754 float32, big-endian word order.

Total system power is + import / - export on a meter wired as the manufacturer draws it.
"""

from __future__ import annotations

from typing import Any


def _float(address: int, scale: float = 1.0) -> dict[str, Any]:
    return {"address": address, "data_type": "float32", "input_type": "input", "scale": scale}


REGISTERS: dict[str, dict[str, Any]] = {
    **{f"voltage_l{p}": _float(0x0000 + 2 * (p - 1)) for p in (1, 2, 3)},
    **{f"current_l{p}": _float(0x0006 + 2 * (p - 1)) for p in (1, 2, 3)},
    **{f"power_l{p}": _float(0x000C + 2 * (p - 1), 0.001) for p in (1, 2, 3)},
    "power": _float(0x0034, 0.001),
    "frequency_hz": _float(0x0046),
    "import_kwh": _float(0x0048),
    "export_kwh": _float(0x004A),
}
