"""`orbiteos run -c DIR`: run a site live until SIGINT or SIGTERM, then stop cleanly."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from orbiteos.config import LoadedConfig, load_config
from orbiteos.logging_setup import LEVELS, apply_logger_config
from orbiteos.runtime import run_hub

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("run", help="run a site live until SIGINT/SIGTERM")
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument("--log-level", choices=list(LEVELS), help="overrides logger: default")
    parser.add_argument("--strict", action="store_true", help="refuse to start on any configuration error")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    loaded = load_config(args.config_dir)
    if loaded.site_errors or (loaded.errors and args.strict):
        for error in loaded.errors:
            print(error, file=sys.stderr)
        why = "--strict" if not loaded.site_errors else "the YAML or the core block is invalid"
        print(f"{len(loaded.errors)} configuration error(s); not starting ({why})", file=sys.stderr)
        return 1
    apply_logger_config(loaded.blocks.get("logger"), args.log_level)
    for error in loaded.errors:  # the rest starts; what is broken is skipped (see docs/automations.md)
        _LOGGER.error("%s", error)
    for warning in loaded.warnings:
        _LOGGER.warning("%s", warning)
    asyncio.run(_serve(loaded))
    return 0


async def _serve(loaded: LoadedConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def request_stop(signum: int) -> None:
        _LOGGER.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    for signum in signals:
        loop.add_signal_handler(signum, request_stop, signum)
    try:
        await run_hub(loaded, stop_event=stop)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
