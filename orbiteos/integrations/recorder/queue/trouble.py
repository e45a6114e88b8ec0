"""Reporting what the journal could not keep: one log line per episode, a grid event, an entity.

A full disk, the journal's size bound or any write error is logged when it starts and when the
journal works again (not at every retry). Rows dropped because neither the journal nor memory
could keep them are counted: each drop fires a `grid_event` of kind `recorder_rows_dropped` (the
recorder stores it as a `grid_events` row, once a database takes it) and updates the entity
`sensor.recorder_rows_dropped` (the total since start, with the reason), which the UI shows, and
raises a site alert in `sensor.orbiteos_alerts` where the site has them (the nature layer).
"""

from __future__ import annotations

import logging
from pathlib import Path

from orbiteos.core import Hub
from orbiteos.natures.layer import DATA_NATURES

_LOGGER = logging.getLogger("orbiteos.integrations.recorder")

EVENT_GRID = "grid_event"
DROP_KIND = "recorder_rows_dropped"
DROPPED_ENTITY = "sensor.recorder_rows_dropped"


class JournalTrouble:
    def __init__(self, hub: Hub, journal_dir: Path, max_queue: int) -> None:
        self._hub = hub
        self._journal_dir = journal_dir
        self._max_queue = max_queue
        self._error: str | None = None  # the journal's current trouble, None while it works
        self._dropped_in_episode = 0

    def journal(self, error: OSError | None, segments: int) -> None:
        """The outcome of the last journal write (None: it worked)."""
        if error is None:
            if self._error is not None:
                _LOGGER.warning(
                    "recorder: the journal %s takes rows again (%d segments)%s",
                    self._journal_dir,
                    segments,
                    f"; {self._dropped_in_episode} rows were dropped meanwhile" if self._dropped_in_episode else "",
                )
                self._error = None
                self._dropped_in_episode = 0
            return
        text = f"{type(error).__name__}: {error}"
        if self._error is None:
            _LOGGER.error(
                "recorder: the journal %s cannot take rows (%s); keeping the newest %d in memory and retrying",
                self._journal_dir,
                text,
                self._max_queue,
            )
        self._error = text

    def dropped(self, count: int, total: int, error: OSError | None) -> None:
        """`count` rows were dropped (`total` since start)."""
        reason = f"{type(error).__name__}: {error}" if error is not None else "no room"
        if not self._dropped_in_episode:
            _LOGGER.error(
                "recorder: dropped %d rows: the journal cannot take them (%s) and memory holds %d at most; "
                "further drops are counted in %s",
                count,
                reason,
                self._max_queue,
                DROPPED_ENTITY,
            )
        self._dropped_in_episode += count
        self._hub.bus.fire(EVENT_GRID, {"kind": DROP_KIND, "value": count, "total": total, "reason": reason})
        self._hub.states.set(
            DROPPED_ENTITY,
            str(total),
            {"friendly_name": "Recorder rows dropped", "reason": reason, "unit_of_measurement": "rows"},
        )
        layer = self._hub.data.get(DATA_NATURES)
        if layer is not None:
            layer.alerts.raise_alert(
                DROP_KIND,
                "recorder",
                DROPPED_ENTITY,
                f"the recorder dropped {total} rows: the journal cannot take them ({reason})",
            )
