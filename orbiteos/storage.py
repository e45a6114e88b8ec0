"""Where a site keeps what it writes: tokens, traces, the recorder's journal and embedded database.

By default that is `<config_dir>/.storage`; `--storage DIR` on the commands that touch it puts it
elsewhere, so that the configuration can stay read-only (a service under `ProtectSystem=strict`)
or a demo can keep its state out of the repository. See docs/deploy.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DIR_NAME = ".storage"


def storage_dir(config_dir: Path | None, override: Path | None = None) -> Path | None:
    """`override` if given, else `<config_dir>/.storage`; None when there is neither (a simulation)."""
    if override is not None:
        return Path(override)
    if config_dir is None:
        return None
    return Path(config_dir) / DEFAULT_DIR_NAME


def add_storage_argument(parser: argparse.ArgumentParser) -> None:
    """The `--storage DIR` option, the same on every command that reads or writes the storage."""
    parser.add_argument(
        "--storage",
        dest="storage_dir",
        type=Path,
        metavar="DIR",
        help="where tokens, traces and the embedded database live (default: CONFIG/.storage)",
    )
