"""One simulated site: its devices, the physics step that ties them together, and the task that
steps it on the hub's clock and writes every entity."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orbiteos.core import STATE_UNAVAILABLE, Context, Hub
from orbiteos.entity import slugify
from orbiteos.integrations.sim.battery import Battery
from orbiteos.integrations.sim.ev import EVCharger
from orbiteos.integrations.sim.grid_signals import GridSignals
from orbiteos.integrations.sim.load import SiteLoad
from orbiteos.integrations.sim.meter import GridMeter
from orbiteos.integrations.sim.pv import PVArray
from orbiteos.integrations.sim.schedule import SiteTime
from orbiteos.integrations.sim.tariff import Tariff
from orbiteos.integrations.sim.weather import Weather
from orbiteos.runtime import DATA_CONFIG

_LOGGER = logging.getLogger(__name__)

Device = PVArray | Battery | EVCharger

_KW = {"unit_of_measurement": "kW"}
_EUR_PER_KWH = {"unit_of_measurement": "EUR/kWh"}
_CELSIUS = {"unit_of_measurement": "°C"}


def _config_dir(hub: Hub) -> Path | None:
    """Where relative file names point: the loaded configuration's directory (a simulation's hub
    has none of its own, so that nothing it does is saved into the live site's storage)."""
    loaded = hub.data.get(DATA_CONFIG)
    return getattr(loaded, "config_dir", None) or hub.config.config_dir


def _kw_value(value: float) -> float:
    """kW to the watt; never -0.0."""
    return round(value * 1e3) / 1e3 + 0.0


def _kw(value: float) -> str:
    """kW as a state string, to the watt; never '-0.0'."""
    return str(_kw_value(value))


def entity_ids_of(config: Mapping[str, Any]) -> list[str]:
    """The entity ids a validated `sim:` block provides (for `orbiteos check`, without building it)."""
    return [
        *(f"pv.{slugify(c['name'])}" for c in config["pv"]),
        *(f"battery.{slugify(c['name'])}" for c in config["battery"]),
        *(f"ev_charger.{slugify(c['name'])}" for c in config["ev_charger"]),
        f"meter.{slugify(config['meter']['name'])}",
        f"sensor.{slugify(config['load']['name'])}",
        f"sensor.{slugify(config['tariff']['name'])}",
        f"sensor.{slugify(config['tariff']['export_name'])}",
        "sensor.grid_import_limit",
        "sensor.grid_export_limit",
        "sensor.outdoor_temperature",
    ]


class SimulatedSite:
    """Builds the devices from the validated `sim:` block; `step()` advances them all by `dt`."""

    def __init__(self, hub: Hub, config: Mapping[str, Any]) -> None:
        self.hub = hub
        self.seed = int(config["seed"])
        self.step_s = float(config["step"])
        site = hub.config
        self.site_time = SiteTime(site.tzinfo)
        self.weather = Weather(config["weather"], self._rng("weather"))
        self.pv = {f"pv.{slugify(c['name'])}": PVArray(c, site.latitude, site.longitude) for c in config["pv"]}
        self.batteries = {
            f"battery.{slugify(c['name'])}": Battery(c, self.weather.ambient_c) for c in config["battery"]
        }
        self.chargers = {f"ev_charger.{slugify(c['name'])}": EVCharger(c) for c in config["ev_charger"]}
        self.load = SiteLoad(config["load"], self._rng("load"))
        self.load_entity = f"sensor.{slugify(self.load.name)}"
        self.meter = GridMeter(config["meter"], self._rng("meter"))
        self.meter_entity = f"meter.{slugify(self.meter.name)}"
        self.tariff = Tariff(config["tariff"], _config_dir(hub), site.tzinfo)
        self.price_entity = f"sensor.{slugify(self.tariff.name)}"
        self.export_price_entity = f"sensor.{slugify(self.tariff.export_name)}"
        self.grid = GridSignals(config["grid"])
        self.time_s = 0.0  # simulated seconds stepped so far
        self._last_written: dict[str, tuple[float, dict[str, Any]]] = {}
        self._price_forecast: list[dict[str, Any]] | None = None
        self._price_attributes: dict[str, Any] = dict(_EUR_PER_KWH)
        self._export_price_attributes: dict[str, Any] = dict(_EUR_PER_KWH)
        self._devices: list[tuple[str, Device]] = [*self.pv.items(), *self.batteries.items(), *self.chargers.items()]
        # Injected faults (`orbiteos simulate --fault`): entities written as unavailable or not
        # at all (stale), and devices that ignore their setpoints.
        self.faults: dict[str, str] = {}
        self.not_answering: set[str] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._began = self._last = 0.0
        self._ticks = 0

    def _rng(self, name: str) -> random.Random:
        # One generator per device, seeded from the site seed and the device's name: adding a
        # device does not change the others' noise.
        return random.Random(f"{self.seed}:{name}")

    @property
    def entity_ids(self) -> list[str]:
        return [
            *self.pv, *self.batteries, *self.chargers, self.meter_entity, self.load_entity,
            self.price_entity, self.export_price_entity, "sensor.grid_import_limit", "sensor.grid_export_limit",
            "sensor.outdoor_temperature",
        ]

    def device(self, entity_id: str) -> Device | None:
        return self.pv.get(entity_id) or self.batteries.get(entity_id) or self.chargers.get(entity_id)

    # --- physics -------------------------------------------------------------
    def step(self, ts: float, dt: float) -> None:
        """Advance every device by `dt` seconds ending at UTC timestamp `ts`."""
        site_time = self.site_time
        local = site_time.local(ts)
        day, second, weekday = site_time.split(ts)
        weather = self.weather
        weather.step(dt, second)
        pv_kw = 0.0
        for array in self.pv.values():
            pv_kw += array.step(ts, dt, weather)
        load_kw = self.load.step(dt, second, weekday)
        ev_kw = 0.0
        ev_l1 = 0.0
        for charger in self.chargers.values():
            power = charger.step(local, day, dt)
            ev_kw += power
            if charger.phases == 1:
                ev_l1 += power
        battery_kw = 0.0
        demand = load_kw + ev_kw - pv_kw
        for battery in self.batteries.values():
            battery_kw += battery.step(dt, demand - battery_kw, weather.ambient_c)
        s1, s2, s3 = self.load.phase_shares
        three_phase = (ev_kw - ev_l1 - pv_kw - battery_kw) / 3.0
        self.meter.step(
            dt, (load_kw * s1 + ev_l1 + three_phase, load_kw * s2 + three_phase, load_kw * s3 + three_phase),
            second, weekday,
        )
        self.tariff.step(ts, site_time)
        self.grid.step(second, weekday)
        self.time_s += dt

    # --- entities --------------------------------------------------------------
    def _write(self, entity_id: str, state: float, attributes: dict[str, Any], context: Context) -> None:
        # Only our own changes are written, so a value set from outside (a replay) stays
        # until the simulated value itself moves. These sensors hold still for hours: the
        # value is compared before anything is formatted.
        last = self._last_written.get(entity_id)
        if last is not None and last[0] == state and last[1] is attributes:
            return
        self._last_written[entity_id] = (state, attributes)
        if self.faults:
            self._faulty_set(entity_id, str(state), attributes, context=context)
        else:
            self.hub.states.set(entity_id, str(state), attributes, context=context)

    def set_fault(self, entity_id: str, kind: str | None) -> None:
        """Write `entity_id` as unavailable (`unavailable`), not at all (`stale`), or normally again (None)."""
        if kind is None:
            self.faults.pop(entity_id, None)
            self._last_written.pop(entity_id, None)  # written at the next step even if unchanged
        else:
            self.faults[entity_id] = kind

    def write_device(self, entity_id: str, context: Context | None = None) -> None:
        device = self.device(entity_id)
        if device is not None:
            set_state = self._faulty_set if self.faults else self.hub.states.set
            set_state(entity_id, _kw(device.power_kw), device.attributes(), context=context)

    def _faulty_set(self, entity_id: str, state: str, attributes: Any, context: Context | None = None) -> None:
        fault = self.faults.get(entity_id)
        if fault == "stale":
            return
        if fault == "unavailable":
            self.hub.states.set(entity_id, STATE_UNAVAILABLE, {}, context=context)
            return
        self.hub.states.set(entity_id, state, attributes, context=context)

    def write_states(self, context: Context | None = None, everything: bool = False) -> None:
        """Write the entities; quiet devices (asleep, idle) only when `everything` is asked for."""
        context = context or Context()
        set_state = self._faulty_set if self.faults else self.hub.states.set
        # Devices move every step: straight to the state machine (which skips unchanged writes).
        for entity_id, device in self._devices:
            if everything or not device.quiet:
                set_state(entity_id, _kw(device.power_kw), device.attributes(), context=context)
        set_state(self.meter_entity, _kw(self.meter.power_kw), self.meter.attributes(), context=context)
        set_state(self.load_entity, _kw(self.load.power_kw), self.load.attributes(), context=context)
        write = self._write
        now_ts = self.hub.clock.now().timestamp()
        imports, exports = self.tariff.forecast(now_ts, self.site_time, self.hub.config.tzinfo)
        if imports is not self._price_forecast:
            self._price_forecast = imports
            self._price_attributes = {**_EUR_PER_KWH, "forecast": imports}
            self._export_price_attributes = {**_EUR_PER_KWH, "forecast": exports}
            if self.tariff.demand_charge:
                self._price_attributes["demand_charge_eur_per_kw_month"] = self.tariff.demand_charge
        write(self.price_entity, round(self.tariff.price * 1e5) / 1e5, self._price_attributes, context)
        write(self.export_price_entity, round(self.tariff.export_price * 1e5) / 1e5, self._export_price_attributes,
              context)
        write("sensor.grid_import_limit", _kw_value(self.grid.import_limit_kw), _KW, context)
        write("sensor.grid_export_limit", _kw_value(self.grid.export_limit_kw), _KW, context)
        write("sensor.outdoor_temperature", round(self.weather.ambient_c * 1e1) / 1e1 + 0.0, _CELSIUS, context)

    # --- running -----------------------------------------------------------------
    def start(self) -> None:
        """Write the first states now and step the physics on the hub's clock from here on."""
        clock = self.hub.clock
        self.step(clock.now().timestamp(), 0.0)
        self.write_states(everything=True)
        self._began = self._last = clock.monotonic()
        self._ticks = 0
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        # A timer per step, not a task that sleeps: the step is synchronous, and a timer costs
        # one pass of the event loop where a sleeping task costs two (and a future).
        self._ticks += 1
        clock = self.hub.clock
        self._handle = clock.call_later(self._began + self._ticks * self.step_s - clock.monotonic(), self._tick)

    def _tick(self) -> None:
        clock = self.hub.clock
        now_mono = clock.monotonic()
        behind = int((now_mono - self._began) / self.step_s) - self._ticks
        if behind > 10:  # a live site that lagged (suspend, overload): catch up in one step
            _LOGGER.warning("sim fell %d steps behind real time; catching up in one step", behind)
            self._ticks += behind
        self.step(clock.now().timestamp(), now_mono - self._last)
        self._last = now_mono
        self.write_states()
        self._schedule_tick()  # after the step: a step that fails stops the site, logged once

    async def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
