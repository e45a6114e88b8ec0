"""The cost KPIs a site owner pays for: demand charge, stored-energy value, total cost, the
instantaneous peak and the EV stop/starts."""

from __future__ import annotations

import pytest

from tests.simulate.test_kpis import _run


def test_demand_charge_stored_energy_value_and_total_cost() -> None:
    price = {"demand_charge_eur_per_kw_month": 15.0}
    figures = _run(
        [
            (0, "sensor.electricity_price", "0.20", price),
            (0, "meter.grid", "30", {}),
            (0, "battery.main", "0", {"soc": 50, "capacity_kwh": 100}),
            (1800, "meter.grid", "90", {}),  # 00:30-00:35: a 5 min spike of 90 kW
            (2100, "meter.grid", "30", {}),
            (3600, "sensor.electricity_price", "0.40", price),
            (3 * 3600, "battery.main", "0", {"soc": 80, "capacity_kwh": 100}),  # 30 kWh more stored
        ],
        6 * 3600,
    )
    peak = (90 * 5 + 30 * 10) / 15  # the 00:30 quarter: 50 kW
    assert figures["peak_15min_import_kw"] == pytest.approx(peak)
    assert figures["instantaneous_peak_import_kw"] == 90.0
    # Six hours are 6 / 720 of a 30-day month.
    assert figures["demand_charge_eur"] == pytest.approx(15.0 * peak * 6 / 720, abs=1e-4)
    mean_price = (0.20 * 1 + 0.40 * 5) / 6
    assert figures["stored_energy_change_kwh"] == pytest.approx(30.0)
    assert figures["stored_energy_value_eur"] == pytest.approx(30.0 * mean_price, abs=1e-4)
    assert figures["total_cost_eur"] == pytest.approx(
        figures["energy_cost_eur"] + figures["demand_charge_eur"] - figures["stored_energy_value_eur"], abs=1e-3)


def test_ev_stop_starts_count_the_charger_pausing_a_charging_vehicle() -> None:
    figures = _run(
        [
            (0, "ev_charger.depot", "0", {"status": "Preparing"}),
            (60, "ev_charger.depot", "11", {"status": "Charging"}),
            (600, "ev_charger.depot", "0", {"status": "SuspendedEVSE"}),  # paused by the charger: 1
            (1200, "ev_charger.depot", "11", {"status": "Charging"}),
            (1800, "ev_charger.depot", "0", {"status": "SuspendedEVSE"}),  # 2
            (2400, "ev_charger.depot", "0", {"status": "SuspendedEVSE", "energy_missing_kwh": 0}),
            (3000, "ev_charger.depot", "0", {"status": "SuspendedEV"}),  # full: the vehicle stops, not counted
            (3600, "ev_charger.depot", "0", {"status": "Available"}),
        ],
        7200,
    )
    assert figures["ev_stop_starts"] == 2
    assert figures["ev_sessions_departed"] == 1
    assert figures["demand_charge_eur"] == 0.0  # no rate published
