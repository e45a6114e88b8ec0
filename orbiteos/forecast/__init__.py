"""Forecasts over a slotted horizon: prices from the price entity, PV from clear sky and
measurements, the site's load from its own history. See docs/optimiser.md."""

from orbiteos.forecast.series import Horizon, entries_of, values_of

__all__ = ["Horizon", "entries_of", "values_of"]
