"""`orbiteos sim-devices -c DIR`: run the site simulator's physics standalone, in real time, and serve
its devices over their real protocols, so that a second OrbitEOS (or any other client) can talk to them.

Only the `sim:` block of the configuration is set up. Each protocol plugs in with a module
`orbiteos/integrations/<protocol>/sim_server.py` that defines

    def add_arguments(parser: argparse.ArgumentParser) -> None   # its own --<protocol>-... options
    async def serve(hub: Hub, args: argparse.Namespace) -> None  # runs until cancelled

Each `serve` runs as a task of the hub; SIGINT or SIGTERM cancels them all and stops the hub.
See docs/sim-devices.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import pkgutil
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from orbiteos.config import load_config
from orbiteos.core import Hub
from orbiteos.loader import setup_integrations
from orbiteos.logging_setup import LEVELS, apply_logger_config
from orbiteos.natures import nature_layer

_LOGGER = logging.getLogger(__name__)


def discover_servers() -> dict[str, ModuleType]:
    """Every `orbiteos.integrations.<protocol>.sim_server` module, by protocol name."""
    import orbiteos.integrations as integrations_pkg

    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(integrations_pkg.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        name = f"orbiteos.integrations.{info.name}.sim_server"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue
            _LOGGER.warning("sim-devices: %s cannot be imported (%s); serving without it", name, err)
            continue
        except Exception as err:
            # Every `orbiteos` command builds this parser: one broken plug-in must not break them all.
            _LOGGER.warning("sim-devices: %s cannot be imported (%s: %s); serving without it", name,
                            type(err).__name__, err)
            continue
        if callable(getattr(module, "serve", None)):
            found[info.name] = module
    return found


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sim-devices",
        help="run the simulated site standalone and serve its devices over Modbus, MQTT and OCPP",
        description="Runs the sim: block of a configuration in real time and serves its devices over their "
        "real protocols (docs/sim-devices.md).",
    )
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument("--log-level", choices=list(LEVELS), help="overrides logger: default")
    for module in discover_servers().values():
        add_arguments = getattr(module, "add_arguments", None)
        if add_arguments is not None:
            add_arguments(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    loaded = load_config(args.config_dir)
    if loaded.errors:
        for error in loaded.errors:
            print(error, file=sys.stderr)
        print(f"{len(loaded.errors)} configuration error(s); not starting", file=sys.stderr)
        return 1
    if "sim" not in loaded.blocks:
        print(f"{args.config_dir}: no sim: block to simulate (see docs/simulator.md)", file=sys.stderr)
        return 1
    apply_logger_config(loaded.blocks.get("logger"), args.log_level)
    return asyncio.run(_run(loaded, args))


async def _run(loaded: Any, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    hub = Hub(config=loaded.site)
    # This hub is the devices, not a controller: no keep-alive or fail-safe here; the servers'
    # own revert timers (SunSpec, battery watchdog, OCPP profile duration) are the fallbacks.
    nature_layer(hub).controller = False
    try:
        result = await setup_integrations(hub, {"sim": loaded.blocks["sim"]})
        if "sim" in result.failed:
            print(f"the simulator failed to start: {result.failed['sim']}", file=sys.stderr)
            return 1
        await hub.start()
        for protocol, module in discover_servers().items():
            hub.create_task(_serve(protocol, module, hub, args), name=f"sim-devices:{protocol}")
        _LOGGER.info("sim-devices: site %r running; Ctrl-C stops it", loaded.site.name)
        await stop.wait()
        _LOGGER.info("sim-devices: stopping")
        return 0
    finally:
        await hub.stop()
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _serve(protocol: str, module: ModuleType, hub: Hub, args: argparse.Namespace) -> None:
    """One protocol's server; a failure is logged and the others go on."""
    try:
        await module.serve(hub, args)
    except asyncio.CancelledError:
        raise
    except Exception:
        _LOGGER.exception("sim-devices: the %s server failed", protocol)
