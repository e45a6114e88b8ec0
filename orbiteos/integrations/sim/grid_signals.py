"""What the grid operator allows: import and export limits on a daily schedule (congestion)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from orbiteos.integrations.sim.schedule import seconds_of_day, weekdays
from orbiteos.validation import number_in_range

WINDOW_SCHEMA = vol.Schema(
    {
        vol.Required("start"): seconds_of_day,
        vol.Required("end"): seconds_of_day,
        vol.Optional("import_limit_kw"): number_in_range(0.0),
        vol.Optional("export_limit_kw"): number_in_range(0.0),
        vol.Optional("days", default="all"): weekdays,
    }
)

SCHEMA = vol.Schema(
    {
        vol.Optional("import_limit_kw", default=1000.0): number_in_range(0.0),
        vol.Optional("export_limit_kw", default=1000.0): number_in_range(0.0),
        vol.Optional("schedule", default=[]): [WINDOW_SCHEMA],
    }
)


class GridSignals:
    """The limit in force: a window's limit while it is open (windows may cross midnight)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.default_import_kw = float(config["import_limit_kw"])
        self.default_export_kw = float(config["export_limit_kw"])
        self.windows: list[dict[str, Any]] = list(config["schedule"])
        self.import_limit_kw = self.default_import_kw
        self.export_limit_kw = self.default_export_kw

    def step(self, second_of_day: float, weekday: int) -> None:
        import_kw, export_kw = self.default_import_kw, self.default_export_kw
        for window in self.windows:
            start, end = window["start"], window["end"]
            if start <= end:
                open_now = start <= second_of_day < end and weekday in window["days"]
            elif second_of_day >= start:
                open_now = weekday in window["days"]
            else:  # after midnight, in a window opened yesterday
                open_now = second_of_day < end and (weekday - 1) % 7 in window["days"]
            if open_now:
                import_kw = window.get("import_limit_kw", import_kw)
                export_kw = window.get("export_limit_kw", export_kw)
        self.import_limit_kw = import_kw
        self.export_limit_kw = export_kw
