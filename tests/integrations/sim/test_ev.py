from __future__ import annotations

import pytest
import voluptuous as vol

from orbiteos.integrations.sim import ev

DAY = 20_000  # a local day number (a Monday is not needed: sessions default to every day)


def _charger(**session: object) -> ev.EVCharger:
    config = ev.SCHEMA(
        {
            "name": "bay",
            "max_power_kw": 22,
            "preparing_s": 20,
            "finishing_s": 10,
            "sessions": [{"arrival": "08:00", "departure": "12:00", "capacity_kwh": 50, "arrival_soc": 20,
                          "target_soc": 90, "max_power_kw": 22, **session}],
        }
    )
    return ev.EVCharger(config)


def _run(charger: ev.EVCharger, start_s: float, end_s: float, dt: float = 1.0) -> list[tuple[float, str, float]]:
    log = []
    t = start_s
    while t < end_s:
        power = charger.step(DAY * 86_400 + t, DAY, dt)
        log.append((t, charger.status, power))
        t += dt
    return log


def test_a_session_goes_through_the_ocpp_statuses() -> None:
    charger = _charger()
    log = _run(charger, 7 * 3600, 13 * 3600)
    statuses = []
    for _t, status, _p in log:
        if not statuses or statuses[-1] != status:
            statuses.append(status)
    assert statuses == ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]
    arrival = next(t for t, s, _p in log if s == "Preparing")
    assert arrival == 8 * 3600
    assert next(t for t, s, _p in log if s == "Finishing") == 12 * 3600
    assert charger.results[0].soc == pytest.approx(90, abs=0.1)
    assert charger.results[0].missing_kwh == pytest.approx(0, abs=0.05)


def test_charging_tapers_above_eighty_percent() -> None:
    charger = _charger(taper_soc=80, target_soc=100)
    by_soc: dict[int, float] = {}
    t = 8 * 3600
    while t < 12 * 3600:
        soc_before = charger.visit.soc if charger.visit is not None else 0.0
        power = charger.step(DAY * 86_400 + t, DAY, 1.0)
        if charger.status == "Charging":
            by_soc.setdefault(int(soc_before), power)  # the power at the start of each percent
        t += 1
    assert by_soc[50] == pytest.approx(22)
    assert by_soc[79] == pytest.approx(22)
    assert by_soc[85] == pytest.approx(22 * 15 / 20, rel=0.05)
    assert by_soc[95] == pytest.approx(22 * 5 / 20, rel=0.15)


def test_limit_in_amps_and_the_minimum_current() -> None:
    charger = _charger()
    _run(charger, 8 * 3600, 8 * 3600 + 30)
    charger.set_limit(current_a=10)
    assert charger.limit_kw == pytest.approx(10 * 230 * 3 / 1000)
    assert charger.step(DAY * 86_400 + 8 * 3600 + 31, DAY, 1.0) == pytest.approx(6.9)
    charger.set_limit(current_a=5)  # below the 6 A minimum: the charger pauses
    assert charger.step(DAY * 86_400 + 8 * 3600 + 32, DAY, 1.0) == 0
    assert charger.status == "SuspendedEVSE"


def test_stop_pauses_until_start() -> None:
    charger = _charger()
    _run(charger, 8 * 3600, 8 * 3600 + 30)
    charger.stop()
    assert _run(charger, 8 * 3600 + 30, 8 * 3600 + 40)[-1][1:] == ("SuspendedEVSE", 0.0)
    charger.start()
    assert _run(charger, 8 * 3600 + 40, 8 * 3600 + 41)[-1][1:] == ("Charging", 22.0)


def test_energy_missing_at_departure_when_held_back() -> None:
    charger = _charger()
    charger.set_limit(power_kw=4.2)
    _run(charger, 8 * 3600, 12 * 3600 + 60, dt=10.0)
    result = charger.results[0]
    assert result.delivered_kwh == pytest.approx(4.2 * (4 * 3600 - 20) / 3600, rel=0.01)
    assert result.missing_kwh == pytest.approx(0.7 * 50 - result.delivered_kwh * 0.92, rel=0.01)


def test_an_overnight_session_is_present_after_midnight() -> None:
    charger = _charger(arrival="18:00", departure="07:00")
    charger.step((DAY + 1) * 86_400 + 2 * 3600, DAY + 1, 1.0)
    assert charger.visit is not None
    charger.step((DAY + 1) * 86_400 + 7 * 3600, DAY + 1, 1.0)
    assert charger.visit is None and charger.status == "Finishing"


def test_overlapping_sessions_are_a_config_error() -> None:
    with pytest.raises(vol.Invalid, match="do not overlap"):
        ev.SCHEMA({"sessions": [{"arrival": "08:00", "departure": "12:00"},
                                {"arrival": "11:00", "departure": "13:00"}]})


def test_session_energy_is_in_kwh() -> None:
    charger = _charger()
    _run(charger, 8 * 3600, 9 * 3600)  # 20 s preparing, then 22 kW for the rest of the hour
    delivered = charger.visit.delivered_kwh if charger.visit else 0.0
    assert delivered == pytest.approx(22 * (3600 - 20) / 3600, rel=0.01)
    assert charger.attributes()["session_kwh"] == round(delivered, 3)
