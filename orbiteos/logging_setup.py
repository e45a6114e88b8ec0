"""The `logger:` block: a default level and per-logger levels, as Home Assistant's logger integration."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

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


def level_name(value: Any) -> str:
    """A level name such as `info` or `debug` (any case), refusing anything else."""
    if isinstance(value, str) and value.strip().lower() in LEVELS:
        return value.strip().lower()
    choices = ", ".join(LEVELS)
    raise vol.Invalid(f"expected a log level ({choices}), found {value!r}")


LOGGER_SCHEMA = vol.Schema(
    {
        vol.Optional("default", default=DEFAULT_LEVEL): level_name,
        vol.Optional("logs", default={}): vol.Any(None, {str: level_name}),
    }
)


def apply_logger_config(block: Mapping[str, Any] | None, override: str | None = None) -> None:
    """Configure the root handler and levels: `override` (from `--log-level`) beats `default`."""
    block = LOGGER_SCHEMA(dict(block or {}))
    default = level_name(override) if override else block["default"]
    root = logging.getLogger()
    if not any(getattr(h, "_orbiteos", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._orbiteos = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(LEVELS[default])
    for name, level in (block["logs"] or {}).items():
        logging.getLogger(name).setLevel(LEVELS[level])
