"""`orbiteos restore -c DIR ARCHIVE`: unpack an `orbiteos backup` archive and load its database."""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

from orbiteos.backup import BackupError, restore_backup
from orbiteos.integrations.recorder.embedded import EmbeddedPostgresError
from orbiteos.storage import add_storage_argument, storage_dir


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "restore",
        help="restore an `orbiteos backup` archive into a configuration and storage directory",
        description="Unpacks the archive's configuration into -c DIR and its storage into --storage (default "
        "DIR/.storage), and loads its database dump into a new embedded database. Stop OrbitEOS first.",
    )
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, required=True, help="config directory")
    add_storage_argument(parser)
    parser.add_argument("archive", type=Path, metavar="ARCHIVE", help="an archive made by `orbiteos backup`")
    parser.add_argument(
        "--force",
        action="store_true",
        help="restore over a directory that is not empty (the archive's database replaces it)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    storage = storage_dir(args.config_dir, args.storage_dir)
    assert storage is not None  # a config directory is always given
    try:
        manifest = restore_backup(args.archive, args.config_dir, storage, force=args.force)
    except (BackupError, EmbeddedPostgresError, tarfile.TarError, OSError) as err:
        print(f"restore: {err}", file=sys.stderr)
        return 1
    database = "and its database " if manifest.get("database") else ""
    print(
        f"restore: {args.archive} ({manifest.get('created')}, orbiteos {manifest.get('orbiteos')}) restored "
        f"{database}into {args.config_dir} and {storage}",
        file=sys.stderr,
    )
    return 0
