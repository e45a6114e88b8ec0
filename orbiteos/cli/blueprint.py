"""`orbiteos blueprint import|list|reimport`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("blueprint", help="import, list and update automation blueprints")
    commands = parser.add_subparsers(dest="blueprint_command", metavar="ACTION", required=True)

    importing = commands.add_parser("import", help="import a blueprint from a file, URL, GitHub or Gist page")
    importing.add_argument("source")
    importing.add_argument("-c", "--config", type=Path, default=Path("."), help="configuration directory")
    importing.add_argument("--force", action="store_true", help="replace an existing blueprint")
    importing.set_defaults(func=_import)

    listing = commands.add_parser("list", help="list installed blueprints")
    listing.add_argument("-c", "--config", type=Path, default=Path("."), help="configuration directory")
    listing.set_defaults(func=_list)

    again = commands.add_parser("reimport", help="update a blueprint from its source_url and show the diff")
    again.add_argument("name", help="path under blueprints/automation, e.g. author/name")
    again.add_argument("-c", "--config", type=Path, default=Path("."), help="configuration directory")
    again.set_defaults(func=_reimport)


def _import(args: argparse.Namespace) -> int:
    from orbiteos.blueprint_import import ImportFailed, import_blueprint

    try:
        result = import_blueprint(args.source, args.config, force=args.force)
    except ImportFailed as err:
        print(f"blueprint import: {err}", file=sys.stderr)
        return 1
    verb = "updated" if result.replaced else "imported"
    print(f"{verb} {result.blueprint.name!r} -> {result.path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from orbiteos.automation.blueprint import BlueprintError, load_blueprint
    from orbiteos.blueprint_import import installed

    base = args.config / "blueprints" / "automation"
    for path in installed(args.config):
        try:
            blueprint = load_blueprint(path)
        except BlueprintError as err:
            print(f"{path.relative_to(base)}\tINVALID: {err}")
            continue
        print(f"{path.relative_to(base)}\t{blueprint.name}\t{blueprint.source_url or '-'}")
    return 0


def _reimport(args: argparse.Namespace) -> int:
    from orbiteos.blueprint_import import ImportFailed, reimport

    try:
        result = reimport(args.name, args.config)
    except ImportFailed as err:
        print(f"blueprint reimport: {err}", file=sys.stderr)
        return 1
    print(result.diff or f"{result.path}: no changes")
    return 0
