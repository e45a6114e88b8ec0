"""The recent warnings and errors of the whole engine, kept in memory for `GET /api/error_log`.

Home Assistant answers its log file; OrbitEOS logs to wherever its operator sends it, so the web
app keeps the last `MAX_RECORDS` records at WARNING and above, formatted with the log guard's
`SafeFormatter` (control characters escaped), from the app's start to its cleanup.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator

from aiohttp import web

from orbiteos.log_guard import SafeFormatter

MAX_RECORDS = 500
FORMAT = "%(asctime)s %(levelname)s (%(threadName)s) [%(name)s] %(message)s"


class RecentErrors(logging.Handler):
    """A bounded buffer of formatted records."""

    def __init__(self, capacity: int = MAX_RECORDS) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(SafeFormatter(FORMAT))
        self.lines: deque[str] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")


RECENT_ERRORS = web.AppKey("orbiteos_recent_errors", RecentErrors)


async def keep_recent_errors(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the handler is on the `orbiteos` logger while the app runs."""
    handler = app[RECENT_ERRORS]
    logger = logging.getLogger("orbiteos")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)
