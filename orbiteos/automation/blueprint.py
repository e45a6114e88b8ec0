"""Home Assistant automation blueprints: load, validate inputs against selectors, substitute `!input`.

An automation that says `use_blueprint: {path: author/name.yaml, input: {...}}` is expanded here
into a plain automation before the automation engine validates it; the automation's own keys
(`id`, `alias`, ...) win over the blueprint's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from orbiteos.automation.selector import check_value
from orbiteos.config import Input, load_yaml, position
from orbiteos.errors import ConfigError

# A link to the repository's blueprints/, so that a wheel carries them too.
SHIPPED_BLUEPRINTS = Path(__file__).parent / "shipped_blueprints"
_NO_DEFAULT = object()


class BlueprintError(ConfigError):
    """A blueprint file, or the inputs given to it, is not valid."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    label: str | None
    description: str | None
    default: Any
    selector: Mapping[str, Any] | None
    section: str | None = None

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


@dataclass
class Blueprint:
    path: Path
    name: str
    domain: str
    description: str | None
    author: str | None
    source_url: str | None
    inputs: dict[str, InputSpec]
    body: dict[str, Any] = field(repr=False)

    def resolve_inputs(self, given: Mapping[str, Any] | None, node: Any = None) -> dict[str, Any]:
        """The value of every input: given, or the default; errors name the input and the blueprint."""
        given = dict(given or {})
        problems: list[str] = []
        unknown = sorted(set(map(str, given)) - set(self.inputs))
        for name in unknown:
            problems.append(f"unknown input {name!r} for blueprint {self.name!r} (it has: {', '.join(self.inputs)})")
        values: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name in given:
                try:
                    values[name] = check_value(spec.selector, given[name])
                except vol.Invalid as err:
                    problems.append(f"input {name!r} of blueprint {self.name!r}: {err.msg}")
            elif spec.required:
                problems.append(f"missing input {name!r} required by blueprint {self.name!r}")
            else:
                values[name] = spec.default
        if problems:
            file, line = position(node) or (None, None)
            raise BlueprintError("; ".join(problems), file, line)
        return values

    def substitute(self, values: Mapping[str, Any]) -> Any:
        return _substitute(self.body, values, self)


def _substitute(node: Any, values: Mapping[str, Any], blueprint: Blueprint) -> Any:
    if isinstance(node, Input):
        if node.name not in values:
            file, line = position(node) or (str(blueprint.path), None)
            raise BlueprintError(f"!input {node.name!r} is not an input of blueprint {blueprint.name!r}", file, line)
        return values[node.name]
    if isinstance(node, Mapping):
        return type(node)(((k, _substitute(v, values, blueprint)) for k, v in node.items()))  # type: ignore[call-arg]
    if isinstance(node, list):
        substituted = [_substitute(v, values, blueprint) for v in node]
        try:
            return type(node)(substituted)  # keeps the YAML position stamp where the type carries one
        except TypeError:
            return substituted
    return node


def _input_specs(raw: Any, blueprint_path: Path, section: str | None = None) -> dict[str, InputSpec]:
    specs: dict[str, InputSpec] = {}
    if raw is None:
        return specs
    if not isinstance(raw, Mapping):
        file, line = position(raw) or (str(blueprint_path), None)
        raise BlueprintError(f"blueprint.input: expected a mapping of inputs, found {type(raw).__name__}", file, line)
    for name, spec in raw.items():
        spec = spec if isinstance(spec, Mapping) else {}
        if "input" in spec and isinstance(spec["input"], Mapping):  # an input section
            specs.update(_input_specs(spec["input"], blueprint_path, section=str(name)))
            continue
        specs[str(name)] = InputSpec(
            name=str(name),
            label=spec.get("name"),
            description=spec.get("description"),
            default=spec.get("default", _NO_DEFAULT),
            selector=spec.get("selector"),
            section=section,
        )
    return specs


def parse_blueprint(document: Any, path: Path) -> Blueprint:
    """Build a Blueprint from a loaded YAML document; a bad header raises BlueprintError with file:line."""
    file, line = position(document) or (str(path), None)
    if not isinstance(document, Mapping) or "blueprint" not in document:
        raise BlueprintError("expected a blueprint file with a top-level 'blueprint:' section", file, line)
    header = document["blueprint"]
    hfile, hline = position(header) or (file, line)
    if not isinstance(header, Mapping):
        raise BlueprintError("blueprint: expected a mapping with name, domain and input", hfile, hline)
    for key in ("name", "domain"):
        if not header.get(key):
            raise BlueprintError(f"blueprint.{key}: required, found nothing", hfile, hline)
    domain = str(header["domain"])
    body = {k: v for k, v in document.items() if k != "blueprint"}
    return Blueprint(
        path=path,
        name=str(header["name"]),
        domain=domain,
        description=header.get("description"),
        author=header.get("author"),
        source_url=header.get("source_url"),
        inputs=_input_specs(header.get("input"), path),
        body=body,
    )


def load_blueprint(path: Path) -> Blueprint:
    try:
        document = load_yaml(path)
    except ConfigError as err:
        raise BlueprintError(err.message, err.file, err.line) from None
    return parse_blueprint(document, path)


def search_paths(config_dir: Path | None) -> list[Path]:
    paths = []
    if config_dir is not None:
        paths.append(config_dir / "blueprints" / "automation")
    paths.append(SHIPPED_BLUEPRINTS / "automation")
    return paths


def find_blueprint(relative: str, config_dir: Path | None) -> Path:
    for base in search_paths(config_dir):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(p) for p in search_paths(config_dir))
    raise FileNotFoundError(f"blueprint {relative!r} not found (looked in {looked})")


def expand_use_blueprint(automation: Mapping[str, Any], config_dir: Path | None) -> dict[str, Any]:
    """Turn `{use_blueprint: {path, input}, id: ...}` into a plain automation config."""
    use = automation["use_blueprint"]
    file, line = position(use) or position(automation) or (None, None)
    if not isinstance(use, Mapping) or not use.get("path"):
        raise BlueprintError("use_blueprint: expected a mapping with 'path' and 'input'", file, line)
    try:
        path = find_blueprint(str(use["path"]), config_dir)
    except FileNotFoundError as err:
        raise BlueprintError(f"use_blueprint.path: {err}", file, line) from None
    blueprint = load_blueprint(path)
    if blueprint.domain != "automation":
        raise BlueprintError(
            f"use_blueprint.path: {use['path']} is a {blueprint.domain!r} blueprint, expected 'automation'", file, line
        )
    values = blueprint.resolve_inputs(use.get("input"), use.get("input", use))
    expanded = blueprint.substitute(values)
    if not isinstance(expanded, Mapping):
        raise BlueprintError(f"blueprint {blueprint.name!r} has no automation body", str(path), None)
    merged = dict(expanded)
    merged.update({k: v for k, v in automation.items() if k != "use_blueprint"})
    return merged
