"""Finds integrations by their YAML key and sets them up in dependency order.

An integration is a module or package with:

    DOMAIN = "modbus"
    CONFIG_SCHEMA = vol.Schema(...)   # validates this integration's YAML block
    DEPENDENCIES = ("mqtt",)          # optional: set up after these
    async def async_setup(hub: Hub, config: Any) -> None: ...

`automation` lives in `orbiteos.automation`; every other domain in `orbiteos.integrations.<domain>`.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from orbiteos.core import Hub

_LOGGER = logging.getLogger(__name__)

# Top-level keys handled by the core itself rather than an integration.
CORE_KEYS = frozenset({"orbiteos", "homeassistant", "logger", "default_config"})
_SPECIAL_MODULES = {"automation": "orbiteos.automation"}


def domain_of_key(key: str) -> str:
    """`automation extra` -> `automation` (Home Assistant's split keys)."""
    return str(key).split(" ", 1)[0]


def integration_module_name(domain: str) -> str:
    return _SPECIAL_MODULES.get(domain, f"orbiteos.integrations.{domain}")


def load_integration(domain: str) -> ModuleType | None:
    """Import the integration for `domain`, or None when there is none."""
    name = integration_module_name(domain)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            return None
        raise


def known_domains() -> list[str]:
    """Every YAML key that something understands."""
    import orbiteos.integrations as integrations_pkg

    names = {m.name for m in pkgutil.iter_modules(integrations_pkg.__path__) if not m.name.startswith("_")}
    return sorted(names | set(_SPECIAL_MODULES) | CORE_KEYS)


def merge_split_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `automation:` and `automation extra:` style keys into one block per domain.

    List blocks are concatenated in file order; a mapping block stands alone.
    """
    merged: dict[str, Any] = {}
    for key, block in config.items():
        domain = domain_of_key(key)
        if domain not in merged:
            merged[domain] = block
            continue
        existing = merged[domain]
        as_list = lambda b: [] if b is None else (list(b) if isinstance(b, list) else [b])  # noqa: E731
        merged[domain] = as_list(existing) + as_list(block)
    return merged


def dependency_order(modules: Mapping[str, ModuleType]) -> list[str]:
    """Domains ordered so that each comes after its DEPENDENCIES (those that are configured)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(domain: str) -> None:
        if domain in ordered or domain not in modules:
            return
        if domain in visiting:
            raise ValueError(f"dependency cycle through integration {domain!r}")
        visiting.add(domain)
        for dep in getattr(modules[domain], "DEPENDENCIES", ()):
            visit(dep)
        visiting.discard(domain)
        ordered.append(domain)

    for domain in modules:
        visit(domain)
    return ordered


@dataclass
class SetupResult:
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


async def setup_integrations(hub: Hub, config: Mapping[str, Any]) -> SetupResult:
    """Set up every configured integration; a failure is reported and the others go on.

    `config` is the validated configuration: one block per domain.
    """
    result = SetupResult()
    modules: dict[str, ModuleType] = {}
    for domain in config:
        if domain in CORE_KEYS:
            continue
        module = load_integration(domain)
        if module is None:
            result.failed[domain] = f"no integration named {domain!r}"
            _LOGGER.error("setup of %s failed: no such integration", domain)
            continue
        modules[domain] = module
    for domain in dependency_order(modules):
        missing = [d for d in getattr(modules[domain], "DEPENDENCIES", ()) if d in result.failed]
        if missing:
            result.failed[domain] = f"dependency {', '.join(missing)} failed to set up"
            _LOGGER.error("setup of %s skipped: dependency %s failed", domain, ", ".join(missing))
            continue
        try:
            await modules[domain].async_setup(hub, config[domain])
        except Exception as err:
            result.failed[domain] = f"{type(err).__name__}: {err}"
            _LOGGER.exception("setup of %s failed", domain)
            continue
        result.loaded.append(domain)
        _LOGGER.info("set up %s", domain)
    hub.data["setup"] = result
    return result
