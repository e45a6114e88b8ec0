"""`orbiteos blueprint import|list|reimport|rollback`."""

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
    again.add_argument("--force", action="store_true", help="replace it even if automations that use it break")
    again.set_defaults(func=_reimport)

    back = commands.add_parser("rollback", help="restore the version a reimport replaced")
    back.add_argument("name", help="path under blueprints/automation, e.g. author/name")
    back.add_argument("-c", "--config", type=Path, default=Path("."), help="configuration directory")
    back.set_defaults(func=_rollback)


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
    from orbiteos.blueprint_update import listed

    for item in listed(args.config):
        where = "\tshipped" if item.shipped else ""
        try:
            blueprint = load_blueprint(item.path)
        except BlueprintError as err:
            print(f"{item.relative}\tINVALID: {err}{where}")
            continue
        print(f"{item.relative}\t{blueprint.name}\t{blueprint.source_url or '-'}{where}")
    return 0


def _reimport(args: argparse.Namespace) -> int:
    from orbiteos.blueprint_import import ImportFailed
    from orbiteos.blueprint_update import ReimportRefused, previous_path, reimport

    try:
        result = reimport(args.name, args.config, force=args.force)
    except ReimportRefused as err:
        for error in err.errors:
            print(error, file=sys.stderr)
        print(err.diff, end="", file=sys.stderr)
        print(f"blueprint reimport: {err}", file=sys.stderr)
        return 1
    except ImportFailed as err:
        print(f"blueprint reimport: {err}", file=sys.stderr)
        return 1
    print(result.diff or f"{result.path}: no changes")
    if result.replaced:
        print(f"previous version kept as {previous_path(result.path)}; `orbiteos blueprint rollback {args.name}`")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from orbiteos.blueprint_import import ImportFailed
    from orbiteos.blueprint_update import rollback

    try:
        path = rollback(args.name, args.config)
    except ImportFailed as err:
        print(f"blueprint rollback: {err}", file=sys.stderr)
        return 1
    print(f"{path}: previous version restored")
    return 0
