"""Reading OCPP 1.6 MeterValues samples into numbers in the engine's units (Wh, W, A, V, %)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"
SOC = "SoC"
POWER_OFFERED = "Power.Offered"
CURRENT_OFFERED = "Current.Offered"

_SCALE = {"Wh": 1.0, "kWh": 1000.0, "W": 1.0, "kW": 1000.0, "A": 1.0, "V": 1.0, "Percent": 1.0}
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", CURRENT: "A", VOLTAGE: "V", SOC: "Percent", POWER_OFFERED: "W",
                 CURRENT_OFFERED: "A"}


@dataclass
class MeterReading:
    """The latest value of each measurand in one MeterValues (or StopTransaction transactionData)."""

    energy_wh: float | None = None
    power_w: float | None = None
    power_per_phase_w: dict[str, float] = field(default_factory=dict)
    currents_a: dict[str, float] = field(default_factory=dict)
    voltage_v: float | None = None
    soc: float | None = None
    power_offered_w: float | None = None
    current_offered_a: float | None = None

    @property
    def total_power_w(self) -> float | None:
        if self.power_w is not None:
            return self.power_w
        if self.power_per_phase_w:
            return sum(self.power_per_phase_w.values())
        return None


def _phase(value: Any) -> str | None:
    """`L1`, `L1-N` -> `l1`; other phases (N, L1-L2) are not per-conductor currents we keep."""
    if not isinstance(value, str):
        return None
    head = value.split("-")[0]
    return head.lower() if head in ("L1", "L2", "L3") and value in (head, f"{head}-N") else None


def parse_meter_values(meter_value: Sequence[dict[str, Any]], field_name: str = "meterValue") -> MeterReading:
    """Merge the samples in order; a non-numeric value is a PropertyConstraintViolation naming the field."""
    reading = MeterReading()
    for i, entry in enumerate(meter_value):
        for j, sample in enumerate(entry.get("sampled_value", [])):
            measurand = sample.get("measurand", ENERGY)
            if measurand not in _DEFAULT_UNIT or sample.get("location", "Outlet") not in ("Outlet", "EV", "Body"):
                continue
            where = f"{field_name}[{i}].sampledValue[{j}].value"
            raw = sample.get("value")
            try:
                number = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):  # "NaN", "inf", "1e309": not a decimal number, as the spec asks
                raise PropertyConstraintViolationError(
                    description=f"{where}: expected a finite decimal number, found {raw!r}", details={"field": where}
                )
            unit = sample.get("unit", _DEFAULT_UNIT[measurand])
            number *= _SCALE.get(unit, 1.0)
            phase = _phase(sample.get("phase"))
            if measurand == ENERGY and sample.get("phase") is None:
                reading.energy_wh = number
            elif measurand == POWER:
                if phase:
                    reading.power_per_phase_w[phase] = number
                elif sample.get("phase") is None:
                    reading.power_w = number
            elif measurand == CURRENT and phase:
                reading.currents_a[phase] = number
            elif measurand == CURRENT and sample.get("phase") is None:
                reading.currents_a["l1"] = number
            elif measurand == VOLTAGE and (phase or sample.get("phase") is None):
                reading.voltage_v = number
            elif measurand == SOC:
                reading.soc = number
            elif measurand == POWER_OFFERED:
                reading.power_offered_w = number
            elif measurand == CURRENT_OFFERED:
                reading.current_offered_a = number
    return reading
