"""`orbiteos backup -c DIR OUT`: the configuration, the storage and the embedded database in one file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orbiteos.backup import BackupError, create_backup
from orbiteos.config import load_config
from orbiteos.integrations.recorder.embedded import EmbeddedPostgresError
from orbiteos.storage import add_storage_argument, storage_dir


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "backup",
        help="write the configuration, storage and embedded database to one archive",
        description="Writes a .tar.gz with the configuration directory, the storage (tokens, traces, journal) "
        "and a pg_dump of the embedded database; safe while OrbitEOS runs (docs/deploy.md).",
    )
    parser.add_argument("-c", "--config", dest="config_dir", type=Path, default=Path("."), help="config directory")
    add_storage_argument(parser)
    parser.add_argument("out", type=Path, metavar="OUT", help="the archive to write, e.g. orbiteos-2026-12-08.tar.gz")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    storage = storage_dir(args.config_dir, args.storage_dir)
    assert storage is not None  # a config directory is always given
    loaded = load_config(args.config_dir)
    recorder = loaded.blocks.get("recorder") or {}
    try:
        summary = create_backup(args.config_dir, storage, args.out, external_database="db_url" in recorder)
    except (BackupError, EmbeddedPostgresError, OSError) as err:
        print(f"backup: {err}", file=sys.stderr)
        return 1
    what = "with the embedded database" if summary.database else "no embedded database"
    print(f"backup: {summary.archive}: {summary.files} file(s), {what}", file=sys.stderr)
    for note in summary.notes:
        print(f"backup: note: {note}", file=sys.stderr)
    return 0
