"""`orbiteos run -c DIR`: run a site live until SIGINT or SIGTERM, then stop cleanly.

`--host`/`--port` override the `http:` block's `server_host`/`server_port` (and turn the web server
on when the configuration has no `http:` block); `--storage DIR` keeps the site's storage there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from orbiteos.config import LoadedConfig, load_config
from orbiteos.logging_setup import LEVELS, apply_logger_config
from orbiteos.runtime import run_hub
from orbiteos.storage import add_storage_argument

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("run", help="run a site live until SIGINT/SIGTERM")
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    parser.add_argument("--log-level", choices=list(LEVELS), help="overrides logger: default")
    parser.add_argument(
        "--host",
        action="append",
        metavar="ADDRESS",
        help="address for the web server to listen on, repeatable (overrides http: server_host)",
    )
    parser.add_argument("--port", type=tcp_port, help="web server port (overrides http: server_port)")
    add_storage_argument(parser)
    parser.add_argument("--strict", action="store_true", help="refuse to start on any configuration error")
    parser.set_defaults(func=main)


def tcp_port(text: str) -> int:
    """A port number; 0 lets the system pick a free one."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535, found {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 0-65535, found {text!r}")
    return port


def apply_overrides(loaded: LoadedConfig, args: argparse.Namespace) -> None:
    """Put the command line's `--host`, `--port` and `--storage` into the loaded configuration."""
    if args.storage_dir is not None:
        loaded.site = replace(loaded.site, storage_override=args.storage_dir.absolute())
    override: dict[str, Any] = {}
    if args.host:
        override["server_host"] = args.host[0] if len(args.host) == 1 else list(args.host)
    if args.port is not None:
        override["server_port"] = args.port
    if not override:
        return
    block = loaded.blocks.get("http")
    if "http" not in loaded.blocks:
        _LOGGER.info("http: not in the configuration; serving it because of --host/--port")
    loaded.blocks["http"] = {**(block or {}), **override}


def main(args: argparse.Namespace) -> int:
    loaded = load_config(args.config_dir)
    if loaded.site_errors or (loaded.errors and args.strict):
        for error in loaded.errors:
            print(error, file=sys.stderr)
        why = "--strict" if not loaded.site_errors else "the YAML or the core block is invalid"
        print(f"{len(loaded.errors)} configuration error(s); not starting ({why})", file=sys.stderr)
        return 1
    apply_logger_config(loaded.blocks.get("logger"), args.log_level)
    apply_overrides(loaded, args)
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
