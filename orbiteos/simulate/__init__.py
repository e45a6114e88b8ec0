"""`orbiteos simulate`: run a configuration on the virtual clock, optionally fed by a replay,
and report the service calls, automation runs and energy KPIs. See docs/simulate.md."""

from __future__ import annotations

from orbiteos.simulate.runner import SimulationResult, simulate

__all__ = ["SimulationResult", "simulate"]
