"""The optimiser: an exact battery and EV-charger schedule as a linear programme on HiGHS."""

from orbiteos.optimiser.lp import solve, stored_energy_value
from orbiteos.optimiser.problem import BatteryModel, ChargerModel, EVSession, Plan, Problem, Shortfall

__all__ = ["BatteryModel", "ChargerModel", "EVSession", "Plan", "Problem", "Shortfall", "solve", "stored_energy_value"]
