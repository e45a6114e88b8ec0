"""The configured forecast sources, their sensors and the slot rhythm that updates them."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from orbiteos.core import Event, Hub, Unsubscribe
from orbiteos.forecast.config import EXPORT_PRICE_SENSOR, IMPORT_PRICE_SENSOR, LOAD_SENSOR, PV_SENSOR
from orbiteos.forecast.load import LoadForecaster
from orbiteos.forecast.measured import SlotAverager
from orbiteos.forecast.price import price_forecast
from orbiteos.forecast.pv import ClearSkyPower, PVArraySpec, PVForecaster
from orbiteos.forecast.series import Horizon, entries_of, parse_entries, values_of
from orbiteos.forecast.ticker import every_slot

_LOGGER = logging.getLogger(__name__)

EVENT_FORECAST_UPDATED = "forecast_updated"


class ForecastSources:
    """Price, PV and load forecasts, each written as a sensor at every slot (prices also when the
    price entity publishes new ones)."""

    def __init__(self, hub: Hub, config: dict[str, Any]) -> None:
        self.hub = hub
        self.slot: timedelta = config["slot"]
        self.length: timedelta = config["horizon"]
        self.slot_s = self.slot.total_seconds()
        self.price_config: dict[str, Any] | None = config.get("price")
        self.pv_config: dict[str, Any] | None = config.get("pv")
        self.load_config: dict[str, Any] | None = config.get("load")
        site = hub.config
        self.pv: PVForecaster | None = None
        if self.pv_config and self.pv_config["arrays"]:
            specs = [PVArraySpec(a["entity_id"], a["peak_power_kw"], a["tilt"], a["azimuth"],
                                 a.get("latitude", site.latitude), a.get("longitude", site.longitude), a["derate"])
                     for a in self.pv_config["arrays"]]
            self.pv = PVForecaster(ClearSkyPower(specs), clearness=self.pv_config["clearness"])
        self.load: LoadForecaster | None = None
        if self.load_config and self.load_config.get("entity_id"):
            self.load = LoadForecaster(site.tzinfo, self.slot_s)
        self.sensor_ids = self._sensor_ids()
        self._averagers: dict[str, SlotAverager] = {}
        self._unsubscribes: list[Unsubscribe] = []

    def _sensor_ids(self) -> list[str]:
        ids = []
        if self.price_config:
            ids += [IMPORT_PRICE_SENSOR, EXPORT_PRICE_SENSOR]
        if self.pv_config:
            ids.append(PV_SENSOR)
        if self.load_config:
            ids.append(LOAD_SENSOR)
        return ids

    def horizon(self) -> Horizon:
        return Horizon.from_now(self.hub.clock.now().astimezone(self.hub.config.tzinfo), self.slot, self.length)

    # --- learning ------------------------------------------------------------------
    async def learn_history(self) -> None:
        """Seed the load profile from the recorder's history (when there is a recorder)."""
        if self.load is None or not self.load_config or not self.load_config["history_days"]:
            return
        from orbiteos.integrations.recorder.history import RecorderUnavailable, get_recorder, states_between

        if get_recorder(self.hub) is None:
            return
        entity_id = self.load_config["entity_id"]
        end = self.horizon().start
        start = end - timedelta(days=self.load_config["history_days"])
        try:
            rows = (await states_between(self.hub, [entity_id], start, end, bucket=self.slot)).get(entity_id, [])
        except RecorderUnavailable as err:
            _LOGGER.warning("forecast: no load history for %s: %s", entity_id, err)
            return
        tz = self.hub.config.tzinfo
        for row in rows:
            for start_ts, _end, mean in parse_entries([{"start": row["start"], "end": row["end"],
                                                         "value": row["mean"]}], tz):
                self.load.learn(start_ts, mean, live=False)
        _LOGGER.info("forecast: learnt the load profile of %s from %d recorded slots", entity_id, len(rows))

    def start(self) -> None:
        now = self.hub.clock.now().timestamp()
        if self.pv is not None:
            self._averagers["pv"] = SlotAverager(self.hub, [s.entity_id for s, _t in self.pv.model.arrays], now)
        if self.load is not None and self.load_config:
            self._averagers["load"] = SlotAverager(self.hub, [self.load_config["entity_id"]], now)
        self._unsubscribes.append(every_slot(self.hub, self.slot_s, self._on_slot))
        if self.price_config:
            watched = [self.price_config["entity_id"], self.price_config["export_entity_id"]]
            self._unsubscribes.append(self.hub.states.listen(watched, self._on_price))
        watched = [c["forecast_entity"] for c in (self.pv_config, self.load_config) if c and c.get("forecast_entity")]
        if watched:
            self._unsubscribes.append(self.hub.states.listen(watched, self._on_entity_forecast))
        self.update()

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        for averager in self._averagers.values():
            averager.stop()

    def _on_slot(self, boundary_ts: float) -> None:
        slot_start = boundary_ts - self.slot_s
        if self.pv is not None:
            self.pv.observe(slot_start, self.slot_s, self._averagers["pv"].close(boundary_ts))
        if self.load is not None:
            self.load.learn(slot_start, self._averagers["load"].close(boundary_ts))
        self.update()

    def _on_price(self, event: Event) -> None:
        old, new = event.data.get("old_state"), event.data.get("new_state")
        if old is None or new is None or old.attributes.get("forecast") != new.attributes.get("forecast"):
            self.update_prices(self.horizon())

    def _on_entity_forecast(self, _event: Event) -> None:
        self.update()

    # --- writing -----------------------------------------------------------------
    def update(self) -> None:
        """Forecast everything over the horizon that starts at the current slot, and write it."""
        horizon = self.horizon()
        if self.price_config:
            self.update_prices(horizon)
        if self.pv_config:
            self._write(PV_SENSOR, horizon, self._pv_values(horizon), "kW", "pv")
        if self.load_config:
            self._write(LOAD_SENSOR, horizon, self._load_values(horizon), "kW", "load")

    def update_prices(self, horizon: Horizon) -> None:
        assert self.price_config is not None  # noqa: S101 - only called with a price block
        tz = self.hub.config.tzinfo
        states = self.hub.states
        imports = price_forecast(states.get(self.price_config["entity_id"]), horizon, tz,
                                 self.price_config.get("fallback"))
        exports = price_forecast(states.get(self.price_config["export_entity_id"]), horizon, tz,
                                 self.price_config.get("export_fallback"))
        self._write(IMPORT_PRICE_SENSOR, horizon, imports, "EUR/kWh", "price", digits=5)
        self._write(EXPORT_PRICE_SENSOR, horizon, exports, "EUR/kWh", "price", digits=5)

    def _entity_values(self, entity_id: str, horizon: Horizon) -> list[float]:
        state = self.hub.states.get(entity_id)
        entries = parse_entries(state.attributes.get("forecast"), self.hub.config.tzinfo) if state else []
        return [v or 0.0 for v in values_of(entries, horizon, 0.0)]

    def _pv_values(self, horizon: Horizon) -> list[float]:
        if self.pv is not None:
            return self.pv.forecast(horizon)
        assert self.pv_config is not None  # noqa: S101
        return self._entity_values(self.pv_config["forecast_entity"], horizon)

    def _load_values(self, horizon: Horizon) -> list[float]:
        if self.load is not None:
            return self.load.forecast(horizon)
        assert self.load_config is not None  # noqa: S101
        return self._entity_values(self.load_config["forecast_entity"], horizon)

    def _write(self, entity_id: str, horizon: Horizon, values: list[float], unit: str, source: str,
               digits: int = 3) -> None:
        entries = entries_of(horizon, values, digits)
        now = round(values[0], digits) if values else None
        self.hub.states.set(entity_id, "unknown" if now is None else str(now + 0.0), {
            "forecast": entries,
            "unit_of_measurement": unit,
            "source": source,
            "friendly_name": entity_id.split(".", 1)[1].replace("_", " ").capitalize(),
        })
        self.hub.bus.fire(EVENT_FORECAST_UPDATED, {
            "entity_id": entity_id, "source": source, "unit": unit, "created": self.hub.clock.now().isoformat(),
            "forecast": entries,
        })
