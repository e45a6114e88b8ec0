"""Shared test set-up. Server fixtures (PostgreSQL, mosquitto, ...) live one per module in
tests/servers/ and are loaded here, so that any test directory can use them."""

from __future__ import annotations

import pkgutil
from pathlib import Path

pytest_plugins = [
    f"tests.servers.{m.name}"
    for m in pkgutil.iter_modules([str(Path(__file__).parent / "servers")])
    if not m.name.startswith("_")
]
