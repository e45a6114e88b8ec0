"""The plan as a linear programme, solved exactly with HiGHS.

Per slot t (length h hours): grid import `imp` and export `exp`, PV curtailment `cur`, import
above the operator's limit `over` (a penalised slack, so that a site that cannot stay under its
limit still gets a plan that says by how much); per battery charge `c`, discharge `d` and stored
energy `e`; per charger its power `p`. Per EV session an unmet-energy slack `short`, and one
`peak` for the demand charge.

    min  sum_t h (pi_t imp_t - pe_t exp_t)  + demand * peak
         + sum h cycle_cost (c + d)  - value * sum_b e_b,T
         + penalty (sum short + sum h over)  + tiny tie-breakers
    s.t. imp - exp + sum d - sum c - sum p - cur = load - pv        (every slot)
         imp - over <= import_limit,  exp <= export_limit,  cur <= pv
         e_t = e_t-1 + h (eta_c c - d / eta_d),  min <= e <= max
         sum_{t in session} h eta_ev p + short >= energy            (every EV session)
         peak >= imp_t,  peak >= peak so far
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np

from orbiteos.optimiser.problem import Plan, Problem, Shortfall

_INF = highspy.kHighsInf
_CURTAIL_EUR_PER_KWH = 1e-4  # lose PV only when nothing else fits
_EARLY_EUR_PER_KWH = 1e-5  # among equal prices, charge vehicles sooner rather than later


@dataclass
class _Columns:
    """Column bounds and costs, appended block by block."""

    cost: list[np.ndarray]
    lower: list[np.ndarray]
    upper: list[np.ndarray]
    count: int = 0

    def add(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> int:
        first = self.count
        self.cost.append(np.asarray(cost, dtype=float))
        self.lower.append(np.asarray(lower, dtype=float))
        self.upper.append(np.asarray(upper, dtype=float))
        self.count += len(self.cost[-1])
        return first


class _Rows:
    """Constraint rows in row-wise sparse form."""

    def __init__(self) -> None:
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def add(self, columns: list[int], values: list[float], lower: float, upper: float) -> None:
        self.starts.append(len(self.index))
        self.index.extend(columns)
        self.value.extend(values)
        self.lower.append(lower)
        self.upper.append(upper)


_banner_shown = False


def _highs() -> highspy.Highs:
    """A quiet solver. HiGHS prints a banner to the process's stdout (C level) the first time one is made,
    which would break the JSON lines of `python -m bench` and the CLI's output: the first one is made with
    stdout pointed at /dev/null."""
    global _banner_shown
    if _banner_shown:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
    highs.setOptionValue("output_flag", False)
    return highs


def stored_energy_value(problem: Problem) -> float:
    """EUR per kWh left stored at the end: given, or what refilling it at the cheapest slot costs."""
    if problem.stored_energy_value_eur_per_kwh is not None:
        return problem.stored_energy_value_eur_per_kwh
    if not problem.batteries:
        return 0.0
    efficiency = min(b.charge_efficiency for b in problem.batteries)
    return max(0.0, min(problem.import_price)) * efficiency


def solve(problem: Problem, time_limit_s: float = 10.0) -> Plan:
    """Build and solve `problem`; the plan says what it could not meet (`shortfalls`)."""
    problem.check()
    began = time.perf_counter()
    n = problem.slots
    h = problem.slot_hours
    zeros, ones = np.zeros(n), np.ones(n)
    pi = np.asarray(problem.import_price, dtype=float)
    pe = np.asarray(problem.export_price, dtype=float)
    pv = np.maximum(np.asarray(problem.pv_kw, dtype=float), 0.0)
    load = np.asarray(problem.load_kw, dtype=float)
    penalty = problem.shortfall_eur_per_kwh

    cols = _Columns([], [], [])
    imp = cols.add(h * pi, zeros, np.full(n, _INF))
    exp = cols.add(-h * pe, zeros, np.maximum(np.asarray(problem.export_limit_kw, dtype=float), 0.0))
    cur = cols.add(np.full(n, h * _CURTAIL_EUR_PER_KWH), zeros, pv)
    over = cols.add(np.full(n, h * penalty), zeros, np.full(n, _INF))
    value = stored_energy_value(problem)
    battery_cols: list[tuple[int, int, int]] = []
    for battery in problem.batteries:
        wear = h * battery.cycle_cost_eur_per_kwh * ones
        c = cols.add(wear, zeros, np.full(n, battery.max_charge_kw))
        d = cols.add(wear, zeros, np.full(n, battery.max_discharge_kw))
        lowest = min(battery.min_kwh, battery.energy_kwh)
        highest = max(battery.max_kwh, battery.energy_kwh)
        end_value = np.zeros(n)
        end_value[-1] = -value
        e = cols.add(end_value, np.full(n, lowest), np.full(n, highest))
        battery_cols.append((c, d, e))
    charger_cols: dict[str, int] = {}
    upper_by_charger: dict[str, np.ndarray] = {c.entity_id: np.zeros(n) for c in problem.chargers}
    for session in problem.sessions:
        window = upper_by_charger[session.charger]
        first, last = max(0, session.first), min(n, session.last)
        window[first:last] = np.maximum(window[first:last], session.max_power_kw)
    early = h * _EARLY_EUR_PER_KWH * np.arange(1, n + 1)
    for charger in problem.chargers:
        upper = np.minimum(upper_by_charger[charger.entity_id], charger.max_power_kw)
        charger_cols[charger.entity_id] = cols.add(early, zeros, upper)
    short = cols.add(np.full(len(problem.sessions), penalty), np.zeros(len(problem.sessions)),
                     np.full(len(problem.sessions), _INF))
    peak = cols.add(np.array([problem.demand_charge_eur_per_kw]), np.array([max(0.0, problem.peak_so_far_kw)]),
                    np.array([_INF]))

    rows = _Rows()
    import_limit = problem.import_limit_kw
    for t in range(n):
        columns = [imp + t, exp + t, cur + t]
        values = [1.0, -1.0, -1.0]
        for c, d, _e in battery_cols:
            columns += [d + t, c + t]
            values += [1.0, -1.0]
        for first in charger_cols.values():
            columns.append(first + t)
            values.append(-1.0)
        net = float(load[t] - pv[t])
        rows.add(columns, values, net, net)
        rows.add([imp + t, over + t], [1.0, -1.0], -_INF, max(0.0, float(import_limit[t])))
        rows.add([peak, imp + t], [1.0, -1.0], 0.0, _INF)
    for battery, (c, d, e) in zip(problem.batteries, battery_cols, strict=True):
        for t in range(n):
            columns = [e + t, c + t, d + t]
            values = [1.0, -h * battery.charge_efficiency, h / battery.discharge_efficiency]
            if t == 0:
                rows.add(columns, values, battery.energy_kwh, battery.energy_kwh)
            else:
                rows.add([*columns, e + t - 1], [*values, -1.0], 0.0, 0.0)
    efficiency = {c.entity_id: c.efficiency for c in problem.chargers}
    for index, session in enumerate(problem.sessions):
        first = charger_cols[session.charger]
        slots = range(max(0, session.first), min(n, session.last))
        eta = h * efficiency[session.charger]
        rows.add([*(first + t for t in slots), short + index], [eta] * len(slots) + [1.0],
                 max(0.0, session.energy_kwh), _INF)

    lp = highspy.HighsLp()
    lp.num_col_ = cols.count
    lp.num_row_ = len(rows.lower)
    lp.col_cost_ = np.concatenate(cols.cost)
    lp.col_lower_ = np.concatenate(cols.lower)
    lp.col_upper_ = np.concatenate(cols.upper)
    lp.row_lower_ = np.asarray(rows.lower)
    lp.row_upper_ = np.asarray(rows.upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = cols.count
    lp.a_matrix_.num_row_ = len(rows.lower)
    lp.a_matrix_.start_ = np.asarray([*rows.starts, len(rows.index)], dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(rows.index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(rows.value)
    highs = _highs()
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.passModel(lp)
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    x = np.asarray(highs.getSolution().col_value)
    if len(x) != cols.count:
        raise RuntimeError(f"HiGHS found no plan: {status}")
    return _plan(problem, x, status, float(highs.getInfo().objective_function_value), began,
                 imp, exp, cur, over, battery_cols, charger_cols, short, peak, value)


def _plan(problem: Problem, x: np.ndarray, status: str, objective: float, began: float, imp: int, exp: int,
          cur: int, over: int, battery_cols: list[tuple[int, int, int]], charger_cols: dict[str, int],
          short: int, peak: int, value: float) -> Plan:
    n = problem.slots
    h = problem.slot_hours

    def block(first: int) -> np.ndarray:
        return x[first:first + n]

    grid = block(imp) - block(exp)
    shortfalls: list[Shortfall] = []
    over_kwh = float(block(over).sum()) * h
    if over_kwh > 1e-3:
        worst = int(np.argmax(block(over)))
        shortfalls.append(Shortfall(
            "import_limit", "", round(over_kwh, 3),
            f"the import limit cannot be kept: {over_kwh:.2f} kWh above it, at most "
            f"{block(over)[worst]:.2f} kW at {problem.start + worst * problem.slot:%Y-%m-%d %H:%M}",
        ))
    for index, session in enumerate(problem.sessions):
        missing = float(x[short + index])
        if missing > 1e-3:
            name = session.name or f"session {index}"
            shortfalls.append(Shortfall(
                f"ev:{session.charger}:{name}", session.charger, round(missing, 3),
                f"{session.charger} ({name}): {missing:.2f} kWh short of its {session.energy_kwh:.2f} kWh target "
                f"by {problem.start + session.last * problem.slot:%Y-%m-%d %H:%M}",
            ))
    battery_kw = {}
    battery_energy = {}
    throughput = 0.0
    for battery, (c, d, e) in zip(problem.batteries, battery_cols, strict=True):
        battery_kw[battery.entity_id] = (block(d) - block(c)).tolist()
        battery_energy[battery.entity_id] = block(e).tolist()
        throughput += float(block(c).sum() + block(d).sum()) * h * battery.cycle_cost_eur_per_kwh
    imported, exported = block(imp), block(exp)
    stored_end = sum(block(e)[-1] for _c, _d, e in battery_cols) if battery_cols else 0.0
    costs = {
        "energy_eur": float(h * (np.dot(imported, problem.import_price) - np.dot(exported, problem.export_price))),
        "demand_charge_eur": float(problem.demand_charge_eur_per_kw * x[peak]),
        "degradation_eur": throughput,
        "stored_energy_value_eur": float(value * stored_end),
        "stored_energy_value_eur_per_kwh": value,
    }
    return Plan(
        start=problem.start,
        slot=problem.slot,
        status=status,
        objective_eur=objective,
        battery_kw=battery_kw,
        battery_energy_kwh=battery_energy,
        charger_kw={entity_id: block(first).tolist() for entity_id, first in charger_cols.items()},
        grid_kw=grid.tolist(),
        curtailed_kw=block(cur).tolist(),
        peak_kw=float(x[peak]),
        shortfalls=shortfalls,
        solve_ms=(time.perf_counter() - began) * 1000.0,
        costs=costs,
    )
