"""Updating an installed blueprint safely: check its uses first, keep the previous version, roll back.

`reimport` fetches the blueprint's `source_url` again and validates every automation of the
configuration that uses it against the new text before writing it; when one that loads today
would break (an input renamed upstream, say), it refuses with the errors and the diff unless
forced. The version it replaces is always kept beside it as `<name>.yaml.previous`, which
`rollback` puts back (keeping the one it replaces there in turn, so a rollback can be undone).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orbiteos.automation.blueprint import SHIPPED_BLUEPRINTS, BlueprintError, load_blueprint
from orbiteos.blueprint_import import ImportFailed, ImportResult, fetch_text, validate_text, with_source_url
from orbiteos.errors import ConfigError

PREVIOUS_SUFFIX = ".previous"


class ReimportRefused(ImportFailed):
    """The new version would break automations that use the blueprint."""

    def __init__(self, path: Path, errors: list[ConfigError], diff: str) -> None:
        self.path = path
        self.errors = errors
        self.diff = diff
        super().__init__(
            f"{path}: the new version gives {len(errors)} error(s) in the automations that use it; "
            "not replaced (use --force to replace it anyway)"
        )


@dataclass(frozen=True)
class ListedBlueprint:
    relative: str  # under blueprints/automation, e.g. `orbiteos/peak_shaving.yaml`
    path: Path
    shipped: bool


def installed_path(name: str, config_dir: Path) -> Path:
    base = config_dir / "blueprints" / "automation"
    return base / (name if name.endswith(".yaml") else f"{name}.yaml")


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def listed(config_dir: Path) -> list[ListedBlueprint]:
    """The configuration's blueprints, then the shipped ones it does not shadow."""
    found: dict[str, ListedBlueprint] = {}
    for base, shipped in ((config_dir / "blueprints" / "automation", False), (SHIPPED_BLUEPRINTS / "automation", True)):
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else []:
            relative = path.relative_to(base).as_posix()
            found.setdefault(relative, ListedBlueprint(relative, path, shipped))
    return list(found.values())


def _uses(config_dir: Path, relative: str) -> list[Any]:
    """The automation items of the configuration whose `use_blueprint.path` is `relative`."""
    from orbiteos.config import load_config, merge_split_keys

    block = merge_split_keys(load_config(config_dir).raw).get("automation")
    items = block if isinstance(block, list) else [block] if block else []
    return [
        item
        for item in items
        if isinstance(item, Mapping)
        and isinstance(item.get("use_blueprint"), Mapping)
        and str(item["use_blueprint"].get("path", "")).removesuffix(".yaml") == relative.removesuffix(".yaml")
    ]


def _errors_with(items: list[Any], relative: str, text: str) -> list[list[ConfigError]]:
    """Each item's errors when the blueprint at `relative` has the content `text`."""
    from orbiteos.automation.manager import validate_each

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blueprints" / "automation" / relative
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        result = []
        for item in items:
            _, broken = validate_each([item], Path(tmp))
            result.append([e for _, errors in broken for e in errors])
        return result


def breakage(config_dir: Path, relative: str, old: str, new: str) -> list[ConfigError]:
    """Errors the new text causes in automations that validate with the old one."""
    items = _uses(config_dir, relative)
    before = _errors_with(items, relative, old)
    after = _errors_with(items, relative, new)
    return [error for was, now in zip(before, after, strict=True) if not was for error in now]


def reimport(name: str, config_dir: Path, force: bool = False) -> ImportResult:
    """Fetch the installed blueprint `name` again; refuse (`ReimportRefused`) if its uses would break."""
    path = installed_path(name, config_dir)
    if not path.is_file():
        raise ImportFailed(f"no installed blueprint {name!r} under {path.parent}")
    try:
        current = load_blueprint(path)
    except BlueprintError as err:
        raise ImportFailed(f"{path}: {err}") from None
    if not current.source_url:
        raise ImportFailed(f"{path}: has no source_url to re-import from")
    text = fetch_text(current.source_url)
    fetched = validate_text(text, path.name)
    if fetched.domain != "automation":
        raise ImportFailed(f"{current.source_url}: a {fetched.domain!r} blueprint, not an automation blueprint")
    if not fetched.source_url:
        text = with_source_url(text, current.source_url)
    old = path.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True), str(path), str(path)))
    if text == old:
        return ImportResult(path, current, False, "")
    relative = path.relative_to(config_dir / "blueprints" / "automation").as_posix()
    errors = breakage(config_dir, relative, old, text)
    if errors and not force:
        raise ReimportRefused(path, errors, diff)
    _replace(path, text, keep=old)
    return ImportResult(path, load_blueprint(path), True, diff)


def rollback(name: str, config_dir: Path) -> Path:
    """Put the version kept by the last reimport back; the replaced one becomes the kept one."""
    path = installed_path(name, config_dir)
    kept = previous_path(path)
    if not kept.is_file():
        raise ImportFailed(f"no previous version of {name!r} to roll back to ({kept} does not exist)")
    _replace(path, kept.read_text(encoding="utf-8"), keep=path.read_text(encoding="utf-8") if path.exists() else None)
    return path


def _replace(path: Path, text: str, keep: str | None) -> None:
    """Write `text` to `path` (atomically), keeping `keep` as the previous version first."""
    if keep is not None:
        _write(previous_path(path), keep)
    _write(path, text)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
