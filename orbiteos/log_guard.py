"""What keeps the log readable whatever arrives: control characters escaped, floods folded.

A request path, a webhook id, a device's frame or a token name can carry a newline or an escape
sequence; written as is, it would forge a log line (or recolour a terminal). `printable()` escapes
them (`\\n` becomes the four characters `\\x0a`), and `SafeFormatter` applies it to every message
(a traceback's own lines stay lines). `FloodFilter` lets through `burst` records of one kind (the
same logger and message template) per `window` seconds and folds the rest into a count, given
with the next record of that kind that passes: `(1,234 more like this in the last 10 s)`.
"""

from __future__ import annotations

import logging
import re
import time

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """`value` as text with control characters (newlines, escapes, line separators) escaped."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_escape, text)


class SafeFormatter(logging.Formatter):
    """A formatter whose messages cannot span lines or carry terminal escapes."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = printable(record.message)
        return super().formatMessage(record)


class FloodFilter(logging.Filter):
    """At most `burst` records of one kind per `window` seconds; the rest counted, not written."""

    def __init__(self, burst: int = 10, window: float = 10.0, kinds: int = 1_000) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._kinds = kinds
        # (logger, template) -> [window start, passed in window, suppressed]
        self._seen: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()  # log pacing, not domain time
        key = (record.name, str(record.msg))
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self._kinds:
                self._seen.clear()
            seen = self._seen[key] = [now, 0, 0]
        if now - seen[0] >= self.window:
            suppressed = int(seen[2])
            seen[0], seen[1], seen[2] = now, 0, 0
            if suppressed:
                record.msg = f"{record.msg} ({suppressed:,} more like this in the last {self.window:g} s)"
        if seen[1] >= self.burst:
            seen[2] += 1
            return False
        seen[1] += 1
        return True
