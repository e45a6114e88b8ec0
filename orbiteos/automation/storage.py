"""The automation package's small JSON files under `<config_dir>/.storage/`: read leniently, written atomically."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def read_json(path: Path | None, what: str) -> dict[str, Any] | None:
    """The document at `path`, or None when there is none or it cannot be read (logged with `what`)."""
    if path is None or not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        _LOGGER.warning("%s in %s could not be read (%s); starting without them", what, path, err)
        return None
    if not isinstance(stored, dict):
        _LOGGER.warning("%s in %s: expected a JSON object, found %s", what, path, type(stored).__name__)
        return None
    return stored


def write_json(path: Path | None, document: dict[str, Any], what: str) -> None:
    """Write `document` to `path` through a temporary file, so a crash never leaves half of it."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        os.replace(tmp, path)
    except OSError as err:
        _LOGGER.error("could not save %s to %s: %s", what, path, err)
