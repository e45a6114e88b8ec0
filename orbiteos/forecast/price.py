"""Price forecast: the price entity's own `forecast` attribute (day-ahead), a fallback beyond it."""

from __future__ import annotations

from datetime import tzinfo

from orbiteos.core import State
from orbiteos.forecast.series import Horizon, parse_entries, values_of


def price_forecast(state: State | None, horizon: Horizon, tz: tzinfo, fallback: float | None) -> list[float]:
    """Per slot, the published price; where none is published, `fallback`, or (without one) the
    last published price, or the entity's current price."""
    entries = parse_entries(state.attributes.get("forecast"), tz) if state is not None else []
    current: float | None = None
    if state is not None:
        try:
            current = float(state.state)
        except ValueError:
            current = None
    default = fallback
    if default is None:
        default = entries[-1][2] if entries else current
    values = values_of(entries, horizon, default)
    if entries and current is not None and values and entries[0][0] > horizon.start.timestamp():
        values[0] = current  # the slot under way, before the first published one: what is billed now
    return [v if v is not None else 0.0 for v in values]
