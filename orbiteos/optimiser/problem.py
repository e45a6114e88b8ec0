"""What the optimiser is asked: the slots, the forecasts, the devices, the grid and its prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BatteryModel:
    """One battery as the plan sees it: energies in kWh (stored), powers in kW (AC)."""

    entity_id: str
    capacity_kwh: float
    energy_kwh: float  # stored now
    min_kwh: float
    max_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    charge_efficiency: float = 0.95  # AC -> stored
    discharge_efficiency: float = 0.95  # stored -> AC
    cycle_cost_eur_per_kwh: float = 0.0  # per kWh charged plus discharged (degradation)


@dataclass(frozen=True)
class EVSession:
    """A vehicle on a charger from slot `first` up to (not including) slot `last`, wanting `energy_kwh`
    (into the vehicle) by then; `expected` marks a visit from a schedule rather than one plugged in."""

    charger: str
    first: int
    last: int
    energy_kwh: float
    max_power_kw: float
    expected: bool = False
    name: str = ""


@dataclass(frozen=True)
class ChargerModel:
    entity_id: str
    max_power_kw: float
    efficiency: float = 0.92  # AC drawn -> energy into the vehicle


@dataclass
class Problem:
    """One planning round. Per-slot lists all have `slots` entries; powers are slot averages in kW."""

    start: datetime
    slot: timedelta
    import_price: list[float]
    export_price: list[float]
    pv_kw: list[float]
    load_kw: list[float]  # the site's own load: not the batteries, not the chargers
    import_limit_kw: list[float]
    export_limit_kw: list[float]
    batteries: list[BatteryModel] = field(default_factory=list)
    chargers: list[ChargerModel] = field(default_factory=list)
    sessions: list[EVSession] = field(default_factory=list)
    # EUR per kW of the billing period's peak (15 min average import), charged above `peak_so_far_kw`.
    demand_charge_eur_per_kw: float = 0.0
    peak_so_far_kw: float = 0.0
    # EUR per kWh left stored at the horizon's end; None: the cheapest import price / charge efficiency.
    stored_energy_value_eur_per_kwh: float | None = None
    # What an unmet kWh of an EV target or of the import limit costs in the objective (a penalty, not a price).
    shortfall_eur_per_kwh: float = 1000.0

    @property
    def slots(self) -> int:
        return len(self.import_price)

    @property
    def slot_hours(self) -> float:
        return self.slot.total_seconds() / 3600.0

    def check(self) -> None:
        """Raise ValueError naming the first list whose length differs from the price list's."""
        for name in ("export_price", "pv_kw", "load_kw", "import_limit_kw", "export_limit_kw"):
            if len(getattr(self, name)) != self.slots:
                raise ValueError(f"{name}: expected {self.slots} slots, found {len(getattr(self, name))}")
        chargers = {c.entity_id for c in self.chargers}
        for session in self.sessions:
            if session.charger not in chargers:
                raise ValueError(f"EV session on {session.charger}: expected one of the chargers {sorted(chargers)}")


@dataclass(frozen=True)
class Shortfall:
    """A target the plan cannot meet, and by how much."""

    what: str  # "ev:<charger>:<session>" or "import_limit"
    entity_id: str
    kwh: float
    message: str


@dataclass
class Plan:
    """The solved schedule: per entity, one power per slot (kW; batteries + discharge / - charge)."""

    start: datetime
    slot: timedelta
    status: str
    objective_eur: float
    battery_kw: dict[str, list[float]]
    battery_energy_kwh: dict[str, list[float]]  # stored at the end of each slot
    charger_kw: dict[str, list[float]]
    grid_kw: list[float]  # + import / - export
    curtailed_kw: list[float]
    peak_kw: float
    shortfalls: list[Shortfall]
    solve_ms: float
    costs: dict[str, float] = field(default_factory=dict)

    def slot_start(self, index: int) -> datetime:
        return self.start + index * self.slot
