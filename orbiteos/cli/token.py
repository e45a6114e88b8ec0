"""`orbiteos token create|list|revoke`: long-lived API tokens, stored hashed in the site's storage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orbiteos.integrations.http.auth import Role, TokenStore
from orbiteos.storage import add_storage_argument


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("token", help="manage API tokens (viewer, operator, admin)")
    actions = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a token; it is printed once, keep it")
    create.add_argument("--name", required=True, help="who or what uses it; shows in the audit log")
    create.add_argument("--role", required=True, choices=[r.label for r in Role], help="what it may do")
    create.set_defaults(func=create_token)

    listing = actions.add_parser("list", help="list tokens (names and roles, never the tokens)")
    listing.set_defaults(func=list_tokens)

    revoke = actions.add_parser("revoke", help="revoke a token by name; a running server refuses it at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=revoke_token)

    for sub in (create, listing, revoke):
        sub.add_argument("-c", "--config", type=Path, default=Path("."), help="configuration directory")
        add_storage_argument(sub)


def _store(args: argparse.Namespace) -> TokenStore | None:
    if not args.config.is_dir():
        print(f"error: configuration directory {args.config} does not exist", file=sys.stderr)
        return None
    return TokenStore.for_config_dir(args.config, args.storage_dir)


def create_token(args: argparse.Namespace) -> int:
    store = _store(args)
    if store is None:
        return 2
    try:
        token = store.create(args.name, args.role)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(token)
    print(f"token {args.name!r} ({args.role}) created in {store.path}; it is shown only this once", file=sys.stderr)
    return 0


def list_tokens(args: argparse.Namespace) -> int:
    store = _store(args)
    if store is None:
        return 2
    records = store.records()
    if not records:
        print("no tokens", file=sys.stderr)
        return 0
    width = max(len(r.name) for r in records)
    for record in records:
        print(f"{record.name:<{width}}  {record.role:<8}  created {record.created}")
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    store = _store(args)
    if store is None:
        return 2
    if not store.revoke(args.name):
        print(f"error: no token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"token {args.name!r} revoked", file=sys.stderr)
    return 0
