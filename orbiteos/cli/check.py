"""`orbiteos check -c DIR`: load and validate a configuration, print every error and warning."""

from __future__ import annotations

import argparse
import importlib
import logging
from pathlib import Path

from orbiteos.cli.check_templates import trigger_template_errors
from orbiteos.config import LoadedConfig, load_config
from orbiteos.errors import ConfigError

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("check", help="validate a configuration; exit 1 on any error")
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument("--strict", action="store_true", help="an entity that nothing provides is an error")
    parser.set_defaults(func=main)


def reference_warnings(loaded: LoadedConfig) -> list[ConfigError]:
    """Warnings from `orbiteos.automation.check_references` (unknown services, entities), when it exists."""
    try:
        automation = importlib.import_module("orbiteos.automation")
    except ImportError:
        return []
    check_references = getattr(automation, "check_references", None)
    if check_references is None:
        return []
    try:
        return list(check_references(loaded))
    except Exception as err:
        _LOGGER.debug("check_references failed", exc_info=True)
        return [ConfigError(f"checking references failed ({type(err).__name__}: {err})")]


def shared_device_warnings(loaded: LoadedConfig) -> list[ConfigError]:
    """Devices that two automations of the same priority steer."""
    from orbiteos.automation.manager import entity_ids_for
    from orbiteos.loader import domain_of_key
    from orbiteos.natures.check import shared_device_warnings as warnings_for
    from orbiteos.yaml_loader import position

    configs = list(loaded.blocks.get("automation") or [])
    raw_items: list[object] = []
    for key, block in (getattr(loaded, "raw", {}) or {}).items():
        if domain_of_key(str(key)) == "automation":
            raw_items.extend(block if isinstance(block, list) else [block])
    positions = [position(item) for item in raw_items] if len(raw_items) == len(configs) else []
    return warnings_for(configs, entity_ids_for(configs), positions)


def format_warning(warning: ConfigError) -> str:
    """`file:line: warning: message`, like a compiler, so editors can jump to it."""
    if warning.file and warning.line:
        return f"{warning.file}:{warning.line}: warning: {warning.message}"
    if warning.file:
        return f"{warning.file}: warning: {warning.message}"
    return f"warning: {warning.message}"


def main(args: argparse.Namespace) -> int:
    loaded = load_config(args.config_dir)
    loaded.errors.extend(trigger_template_errors(loaded))
    references = reference_warnings(loaded)
    if getattr(args, "strict", False):
        from orbiteos.automation.manager import unknown_entities

        unknown = {str(error) for error in unknown_entities(loaded)}
        loaded.errors.extend(error for error in references if str(error) in unknown)
        references = [warning for warning in references if str(warning) not in unknown]
    warnings = [*loaded.warnings, *references]
    if not loaded.errors:
        warnings += shared_device_warnings(loaded)
    for error in loaded.errors:
        print(error)
    for warning in warnings:
        print(format_warning(warning))
    domains = ", ".join(sorted(loaded.blocks)) or "none"
    verdict = "invalid" if loaded.errors else "valid"
    print(
        f"{args.config_dir}: configuration {verdict}: {len(loaded.errors)} error(s), {len(warnings)} warning(s); "
        f"integrations: {domains}"
    )
    return 1 if loaded.errors else 0
