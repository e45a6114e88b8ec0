from __future__ import annotations

import random

import pytest
import voluptuous as vol

from orbiteos.integrations.sim import battery


def _battery(**overrides: object) -> battery.Battery:
    config = battery.SCHEMA({"capacity_kwh": 100, "max_charge_kw": 50, "max_discharge_kw": 50, **overrides})
    return battery.Battery(config, ambient_c=15.0)


def test_soc_stays_within_limits_under_any_setpoint() -> None:
    rng = random.Random(7)
    pack = _battery(soc_min=10, soc_max=90, initial_soc=50)
    for _ in range(20_000):
        pack.set_power(rng.choice([-1e6, -50, -3, 0, 3, 50, 1e6, rng.uniform(-200, 200)]))
        pack.step(rng.choice([0.5, 1.0, 10.0, 600.0]), site_demand_kw=0.0, ambient_c=15.0)
        assert 10.0 - 1e-9 <= pack.soc <= 90.0 + 1e-9
    assert pack.charged_kwh > 100 and pack.discharged_kwh > 100


def test_power_is_capped_at_the_rated_power() -> None:
    pack = _battery(initial_soc=50)
    pack.set_power(500)
    assert pack.step(1.0, 0.0, 15.0) == pytest.approx(50)
    pack.set_power(-500)
    assert pack.step(1.0, 0.0, 15.0) == pytest.approx(-50)


def test_energy_in_the_cells_follows_the_conversion_losses() -> None:
    pack = _battery(round_trip_efficiency=0.81, initial_soc=50, fade_per_cycle=0.0)
    stored = pack.stored_kwh
    pack.set_power(-40)
    for _ in range(1800):
        pack.step(1.0, 0.0, 15.0)
    pack.set_power(30)
    for _ in range(1800):
        pack.step(1.0, 0.0, 15.0)
    expected = stored + 0.9 * pack.charged_kwh - pack.discharged_kwh / 0.9
    assert pack.stored_kwh == pytest.approx(expected, rel=1e-9)
    assert pack.charged_kwh == pytest.approx(20.0) and pack.discharged_kwh == pytest.approx(15.0)


def test_charging_tapers_above_taper_soc() -> None:
    pack = _battery(taper_soc=80, soc_max=100, initial_soc=79)
    pack.set_power(-50)
    powers = {}
    while pack.soc < 99.5:
        soc = pack.soc
        powers[round(soc)] = -pack.step(10.0, 0.0, 15.0)
    assert powers[79] == pytest.approx(50)
    assert powers[85] < 40
    assert powers[95] < 15
    assert powers[85] > powers[90] > powers[95]


def test_self_consumption_mode_covers_demand_and_charges_from_surplus() -> None:
    pack = _battery(initial_soc=50)
    assert pack.step(1.0, site_demand_kw=12.0, ambient_c=15.0) == pytest.approx(12.0)
    assert pack.step(1.0, site_demand_kw=-7.0, ambient_c=15.0) == pytest.approx(-7.0)
    pack.set_power(0)
    assert pack.step(1.0, site_demand_kw=12.0, ambient_c=15.0) == 0
    pack.auto()
    assert pack.step(1.0, site_demand_kw=12.0, ambient_c=15.0) == pytest.approx(12.0)


def test_cycles_and_state_of_health_follow_throughput() -> None:
    pack = _battery(soc_min=0, soc_max=100, initial_soc=50, fade_per_cycle=0.01)
    for _ in range(3):
        pack.set_power(-50)
        for _ in range(4 * 3600):
            pack.step(1.0, 0.0, 15.0)
        pack.set_power(50)
        for _ in range(4 * 3600):
            pack.step(1.0, 0.0, 15.0)
    assert 2.0 < pack.cycles < 3.2
    assert pack.soh == pytest.approx(100 - 0.01 * pack.cycles, abs=1e-6)


def test_heat_from_losses_warms_the_pack_and_derates_it() -> None:
    pack = _battery(initial_soc=50, cooling_w_per_k=5, thermal_mass_kj_per_k=200, derate_above_c=30,
                    shutdown_above_c=40, soc_min=0, soc_max=100)
    pack.set_power(50)
    powers = [pack.step(1.0, 0.0, 15.0) for _ in range(3000)]
    assert pack.temperature_c > 30
    assert min(powers) < 45


def test_soc_limits_out_of_order_are_a_config_error() -> None:
    with pytest.raises(vol.Invalid, match="soc_min < soc_max"):
        battery.SCHEMA({"capacity_kwh": 10, "max_charge_kw": 5, "max_discharge_kw": 5, "soc_min": 90, "soc_max": 20})
