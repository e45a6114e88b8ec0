"""Energy prices as sensors: a time-of-use table or a day-ahead CSV, in EUR/kWh."""

from __future__ import annotations

import bisect
import csv
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos.errors import ConfigError
from orbiteos.integrations.sim.schedule import DAY_S, SiteTime, daily_value, seconds_of_day, weekdays
from orbiteos.validation import number_in_range, string

_SLOT_S = 900.0

PERIOD_SCHEMA = vol.Schema(
    {
        vol.Required("start"): seconds_of_day,
        vol.Required("price"): number_in_range(-10.0, 100.0),
        vol.Optional("days", default="all"): weekdays,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("name", default="electricity_price"): string,
        vol.Optional("export_name", default="electricity_export_price"): string,
        vol.Optional("price", default=0.25): number_in_range(-10.0, 100.0),
        vol.Optional("time_of_use", default=[]): [PERIOD_SCHEMA],
        vol.Optional("day_ahead_csv"): string,
        vol.Optional("export_price", default=0.07): number_in_range(-10.0, 100.0),
        # When tomorrow's day-ahead prices become known (site time); a time-of-use table is always known.
        vol.Optional("publish_at", default="13:00"): seconds_of_day,
        # EUR per kW of the month's highest 15 min average import (published for the KPIs and the optimiser).
        vol.Optional("demand_charge", default=0.0): number_in_range(0.0, 10_000.0),
    }
)


def read_day_ahead_csv(path: Path, tz: tzinfo) -> tuple[list[float], list[float]]:
    """`time,price` rows (ISO 8601, EUR/kWh) -> sorted (UTC timestamps, prices)."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read the day-ahead price file: {err.strerror}", str(path)) from None
    rows: list[tuple[float, float]] = []
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["time", "price"]:
            raise ConfigError(f"expected the header 'time,price', found {header!r}", str(path), 1)
        for line, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ConfigError(f"expected 'time,price', found {','.join(row)!r}", str(path), line)
            try:
                moment = datetime.fromisoformat(row[0].strip())
            except ValueError:
                raise ConfigError(f"expected an ISO 8601 time, found {row[0]!r}", str(path), line) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            try:
                price = float(row[1])
            except ValueError:
                raise ConfigError(f"expected a price in EUR/kWh, found {row[1]!r}", str(path), line) from None
            rows.append((moment.timestamp(), price))
    if not rows:
        raise ConfigError("expected at least one price row, found none", str(path))
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows]


class Tariff:
    """Import price from a day-ahead series when given, else from the time-of-use table."""

    def __init__(self, config: dict[str, Any], config_dir: Path | None, tz: tzinfo) -> None:
        self.name: str = config["name"]
        self.export_name: str = config["export_name"]
        self.flat_price = float(config["price"])
        self.export_price = float(config["export_price"])
        self.periods = sorted(((p["start"], p["days"], float(p["price"])) for p in config["time_of_use"]),
                              key=lambda p: p[0])
        self.series: tuple[list[float], list[float]] | None = None
        if config.get("day_ahead_csv"):
            path = Path(config["day_ahead_csv"])
            if not path.is_absolute() and config_dir is not None:
                path = config_dir / path
            self.series = read_day_ahead_csv(path, tz)
        self.price = self.flat_price
        self.publish_at = float(config["publish_at"])
        self.demand_charge = float(config["demand_charge"])
        self._forecast_key: tuple[float, float] | None = None
        self._forecast_from = self._forecast_until = 0.0
        self._forecast: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def price_at(self, ts: float, site_time: SiteTime) -> float:
        """The import price at UTC timestamp `ts`."""
        if self.series is not None:
            times, prices = self.series
            return prices[max(0, bisect.bisect_right(times, ts) - 1)]
        if self.periods:
            _day, second, weekday = site_time.split(ts)
            return daily_value(self.periods, second, weekday, self.flat_price)
        return self.flat_price

    def forecast(self, ts: float, site_time: SiteTime, tz: tzinfo) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The known prices from today's midnight on, as HA price integrations publish them (today,
        and tomorrow once known): (import, export) lists of `{start, end, value}`, equal neighbours
        merged. A time-of-use table is known to the end of tomorrow; a day-ahead series to the end of
        today, and of tomorrow from `publish_at` on (as day-ahead auctions publish). The lists change
        only at midnight and at `publish_at`, so the price sensors do not churn."""
        if self._forecast_from <= ts < self._forecast_until:
            return self._forecast  # called every step: the lists hold until midnight or publication
        day, second, _weekday = site_time.split(ts)
        days_known = 2 if self.series is None or second >= self.publish_at else 1
        today = datetime.fromtimestamp(day * DAY_S, UTC).date()
        first = datetime.combine(today, datetime.min.time(), tz).timestamp()
        end = datetime.combine(today + timedelta(days=days_known), datetime.min.time(), tz).timestamp()
        self._forecast_from = first
        midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz).timestamp()
        self._forecast_until = min(midnight, first + self.publish_at) if days_known == 1 else midnight
        key = (first, end)
        if key == self._forecast_key:
            return self._forecast
        if self.series is not None:
            end = min(end, self.series[0][-1] + 3600.0)  # a series says nothing past its last hour
        entries: list[dict[str, Any]] = []
        moment = first
        while moment < end:
            value = round(self.price_at(moment, site_time) * 1e5) / 1e5
            if entries and entries[-1]["value"] == value:
                entries[-1]["end"] = moment + _SLOT_S
            else:
                entries.append({"start": moment, "end": moment + _SLOT_S, "value": value})
            moment += _SLOT_S
        imports = [_iso(e, tz) for e in entries]
        exports = [_iso({"start": first, "end": end, "value": self.export_price}, tz)] if end > first else []
        self._forecast_key = key
        self._forecast = (imports, exports)
        return self._forecast

    def step(self, ts: float, site_time: SiteTime) -> float:
        self.price = self.price_at(ts, site_time)
        return self.price


def _iso(entry: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    return {
        "start": datetime.fromtimestamp(entry["start"], tz).isoformat(),
        "end": datetime.fromtimestamp(entry["end"], tz).isoformat(),
        "value": entry["value"],
    }
