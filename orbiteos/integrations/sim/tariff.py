"""Energy prices as sensors: a time-of-use table or a day-ahead CSV, in EUR/kWh."""

from __future__ import annotations

import bisect
import csv
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos.errors import ConfigError
from orbiteos.integrations.sim.schedule import SiteTime, daily_value, seconds_of_day, weekdays
from orbiteos.validation import number_in_range, string

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

    def step(self, ts: float, site_time: SiteTime) -> float:
        if self.series is not None:
            times, prices = self.series
            index = bisect.bisect_right(times, ts) - 1
            self.price = prices[max(0, index)]
        elif self.periods:
            _day, second, weekday = site_time.split(ts)
            self.price = daily_value(self.periods, second, weekday, self.flat_price)
        return self.price
