"""The `logger:` block: a default level and per-logger levels, as Home Assistant's logger integration."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import voluptuous as vol

from orbiteos.log_guard import FloodFilter, SafeFormatter

LEVELS = {
    "critical": logging.CRITICAL,
    "fatal": logging.FATAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "notset": logging.NOTSET,
}
DEFAULT_LEVEL = "info"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _as_patterns(value: str | list[str]) -> list[str]:
    return [regex(v) for v in ([value] if isinstance(value, str) else value)]


def level_name(value: Any) -> str:
    """A level name such as `info` or `debug` (any case), refusing anything else."""
    if isinstance(value, str) and value.strip().lower() in LEVELS:
        return value.strip().lower()
    choices = ", ".join(LEVELS)
    raise vol.Invalid(f"expected a log level ({choices}), found {value!r}")


def regex(value: Any) -> str:
    """A regular expression that compiles."""
    text = str(value)
    try:
        re.compile(text)
    except re.error as err:
        raise vol.Invalid(f"expected a regular expression, found {text!r} ({err})") from None
    return text


LOGGER_SCHEMA = vol.Schema(
    {
        vol.Optional("default", default=DEFAULT_LEVEL): level_name,
        vol.Optional("logs", default={}): vol.Any(None, {str: level_name}),
        # Home Assistant's `filters:`: drop records of a logger whose message matches one of the patterns.
        vol.Optional("filters", default={}): vol.Any(None, {str: vol.All(vol.Any(str, [str]), _as_patterns)}),
    }
)


class MessageFilter(logging.Filter):
    """Drops records whose message matches any of the patterns."""

    def __init__(self, patterns: Sequence[str]) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(p.search(message) for p in self.patterns)


def apply_logger_config(block: Mapping[str, Any] | None, override: str | None = None) -> None:
    """Configure the root handler and levels: `override` (from `--log-level`) beats `default`."""
    block = LOGGER_SCHEMA(dict(block or {}))
    default = level_name(override) if override else block["default"]
    root = logging.getLogger()
    if not any(getattr(h, "_orbiteos", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(SafeFormatter(LOG_FORMAT))
        handler.addFilter(FloodFilter())
        handler._orbiteos = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(LEVELS[default])
    for name, level in (block["logs"] or {}).items():
        logging.getLogger(name).setLevel(LEVELS[level])
    for name, patterns in (block["filters"] or {}).items():
        target = logging.getLogger(name)
        for old in [f for f in target.filters if isinstance(f, MessageFilter)]:
            target.removeFilter(old)
        target.addFilter(MessageFilter(patterns))
