"""The linear programme: every plan is checked against the physics it promises (energy balance,
SoC, powers, limits), and against what its objective must make it do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orbiteos.optimiser import BatteryModel, ChargerModel, EVSession, Plan, Problem, solve

START = datetime(2026, 11, 24, tzinfo=UTC)
N = 16  # 4 hours of 15 min
H = 0.25


def battery(**changes: float) -> BatteryModel:
    base = BatteryModel("battery.main", 100.0, 50.0, 10.0, 95.0, 50.0, 50.0, 0.95, 0.95, 0.0)
    return replace(base, **changes)


def problem(**changes: object) -> Problem:
    base = Problem(
        start=START, slot=timedelta(minutes=15),
        import_price=[0.30] * N, export_price=[0.05] * N, pv_kw=[0.0] * N, load_kw=[20.0] * N,
        import_limit_kw=[1000.0] * N, export_limit_kw=[1000.0] * N,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def check_physics(p: Problem, plan: Plan) -> None:
    """Every slot balances; SoC follows the powers within bounds; nothing exceeds its rating."""
    for t in range(p.slots):
        supply = plan.grid_kw[t] + p.pv_kw[t] - plan.curtailed_kw[t] + sum(v[t] for v in plan.battery_kw.values())
        demand = p.load_kw[t] + sum(v[t] for v in plan.charger_kw.values())
        assert supply == pytest.approx(demand, abs=1e-6)
    for b in p.batteries:
        energy = b.energy_kwh
        for t, kw in enumerate(plan.battery_kw[b.entity_id]):
            assert -b.max_charge_kw - 1e-6 <= kw <= b.max_discharge_kw + 1e-6
            energy += -kw * H * b.charge_efficiency if kw < 0 else -kw * H / b.discharge_efficiency
            assert plan.battery_energy_kwh[b.entity_id][t] == pytest.approx(energy, abs=1e-4)
            assert b.min_kwh - 1e-6 <= energy <= b.max_kwh + 1e-6


def test_buys_cheap_and_covers_the_dear_slots() -> None:
    prices = [0.10] * 8 + [0.40] * 8
    p = problem(import_price=prices, batteries=[battery(energy_kwh=10.0)])
    plan = solve(p)
    check_physics(p, plan)
    kw = plan.battery_kw["battery.main"]
    assert all(v <= 1e-6 for v in kw[:8]) and sum(kw[:8]) < -100  # charges while cheap
    assert all(plan.grid_kw[t] == pytest.approx(0.0, abs=1e-6) for t in range(8, 16))  # dear: the battery covers it
    assert plan.status == "Optimal" and not plan.shortfalls


def test_the_cycle_cost_stops_arbitrage_that_does_not_pay() -> None:
    prices = [0.30] * 8 + [0.32] * 8  # 2 cents of spread, lost to the 10 % round trip
    plan = solve(problem(import_price=prices, batteries=[battery(energy_kwh=10.0, cycle_cost_eur_per_kwh=0.02)]))
    assert sum(abs(v) for v in plan.battery_kw["battery.main"][:8]) == pytest.approx(0.0, abs=1e-6)


def test_the_import_limit_holds_and_a_site_that_cannot_keep_it_is_told_by_how_much() -> None:
    p = problem(load_kw=[60.0] * N, import_limit_kw=[45.0] * N, batteries=[battery(energy_kwh=30.0)])
    plan = solve(p)
    check_physics(p, plan)
    # 15 kW over for 4 h = 60 kWh; the battery has 20 kWh above its floor, 19 kWh at the AC side.
    assert plan.battery_energy_kwh["battery.main"][-1] == pytest.approx(10.0, abs=1e-4)  # all of it, for the limit
    (shortfall,) = plan.shortfalls
    assert shortfall.what == "import_limit"
    assert shortfall.kwh == pytest.approx(60.0 - 20.0 * 0.95, abs=1e-3)
    assert "the import limit cannot be kept" in shortfall.message


def test_ev_targets_are_met_by_departure_and_an_impossible_one_says_how_short() -> None:
    chargers = [ChargerModel("ev_charger.a", 22.0, 1.0), ChargerModel("ev_charger.b", 22.0, 0.9)]
    sessions = [
        EVSession("ev_charger.a", 2, 10, 20.0, 22.0, name="van"),  # 4 cheap slots x 22 kW x 0.25 h = 22 kWh
        EVSession("ev_charger.b", 0, 4, 30.0, 11.0, name="car"),  # 4 x 11 x 0.25 x 0.9 = 9.9 kWh possible
    ]
    prices = [0.40 if t % 2 else 0.10 for t in range(N)]
    p = problem(import_price=prices, chargers=chargers, sessions=sessions)
    plan = solve(p)
    check_physics(p, plan)
    van = plan.charger_kw["ev_charger.a"]
    assert sum(van) * H == pytest.approx(20.0, abs=1e-4)
    assert all(v == pytest.approx(0.0, abs=1e-6) for t, v in enumerate(van) if t < 2 or t >= 10)
    assert sum(v for t, v in enumerate(van) if t % 2) == pytest.approx(0.0, abs=1e-6)  # only the cheap slots
    (short,) = plan.shortfalls
    assert short.entity_id == "ev_charger.b" and short.kwh == pytest.approx(30.0 - 9.9, abs=1e-3)
    assert "ev_charger.b (car): 20.10 kWh short" in short.message


def test_a_demand_charge_flattens_the_peak() -> None:
    load = [20.0] * 12 + [70.0] * 4
    base = problem(load_kw=load, batteries=[battery(energy_kwh=40.0)])
    flat = solve(base)
    charged = solve(replace(base, demand_charge_eur_per_kw=10.0))
    check_physics(base, charged)
    assert max(flat.grid_kw) == pytest.approx(70.0, abs=1e-3)  # nothing to gain from the battery without it
    assert charged.peak_kw < 50.0
    assert max(charged.grid_kw) == pytest.approx(charged.peak_kw, abs=1e-4)
    # The peak of the month so far is paid already: no gain in shaving below it.
    paid = solve(replace(base, demand_charge_eur_per_kw=10.0, peak_so_far_kw=70.0))
    assert paid.costs["demand_charge_eur"] == pytest.approx(700.0)


def test_the_stored_energy_value_decides_how_full_the_horizon_ends() -> None:
    base = problem(batteries=[battery(energy_kwh=50.0)])
    spent = solve(replace(base, stored_energy_value_eur_per_kwh=0.0))
    kept = solve(replace(base, stored_energy_value_eur_per_kwh=1.0))
    assert spent.battery_energy_kwh["battery.main"][-1] == pytest.approx(10.0, abs=1e-4)
    assert kept.battery_energy_kwh["battery.main"][-1] == pytest.approx(95.0, abs=1e-4)


def test_pv_the_export_limit_cannot_take_is_curtailed() -> None:
    p = problem(pv_kw=[80.0] * N, load_kw=[10.0] * N, export_limit_kw=[40.0] * N, export_price=[0.05] * N)
    plan = solve(p)
    check_physics(p, plan)
    assert all(g == pytest.approx(-40.0, abs=1e-6) for g in plan.grid_kw)
    assert all(c == pytest.approx(30.0, abs=1e-6) for c in plan.curtailed_kw)


def test_lists_of_the_wrong_length_name_the_list() -> None:
    with pytest.raises(ValueError, match=r"pv_kw: expected 16 slots, found 3"):
        solve(problem(pv_kw=[0.0] * 3))
    with pytest.raises(ValueError, match=r"EV session on ev_charger.x"):
        solve(problem(sessions=[EVSession("ev_charger.x", 0, 2, 1.0, 11.0)]))
