"""Loading a configuration directory: YAML with positions, packages, per-integration validation.

`load_config(dir)` never raises for a bad configuration: it returns a `LoadedConfig` whose
`errors` list says, for each problem, `file:line: key.path: what was expected; found what`.
`load_config_strict(dir)` raises them together as `ConfigErrors`.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol

from orbiteos.core import SiteConfig
from orbiteos.errors import ConfigError
from orbiteos.limits import LIMITS_SCHEMA, limits_from_config
from orbiteos.loader import CORE_KEYS, domain_of_key, known_domains, load_integration
from orbiteos.logging_setup import LOGGER_SCHEMA
from orbiteos.validation import string
from orbiteos.yaml_loader import (
    ConfigErrors,
    Input,
    NodeDict,
    NodeList,
    NodeStr,
    Position,
    Secrets,
    child_position,
    describe_value,
    load_yaml,
    load_yaml_collecting,
    parse_yaml,
    position,
    stamp,
)

__all__ = [
    "ConfigErrors",
    "Input",
    "LoadedConfig",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "Secrets",
    "error_from_invalid",
    "format_path",
    "load_config",
    "load_config_strict",
    "load_yaml",
    "locate",
    "parse_yaml",
    "position",
]

_LOGGER = logging.getLogger(__name__)

CONFIG_FILE = "configuration.yaml"
CORE_DOMAINS = ("orbiteos", "homeassistant")
# Home Assistant core keys that a pasted configuration may carry; accepted and ignored, with a warning.
_IGNORED_CORE_KEYS = (
    "unit_system", "currency", "country", "language", "radius", "customize", "customize_domain",
    "customize_glob", "external_url", "internal_url", "allowlist_external_dirs", "allowlist_external_urls",
    "media_dirs", "auth_providers", "auth_mfa_modules", "legacy_templates", "debug",
)  # fmt: skip


# --- locating and describing errors --------------------------------------------------------


def _plain_key(key: Any) -> Any:
    """A voluptuous path element as the data key: `Required('x')` -> `'x'`."""
    return key.schema if isinstance(key, vol.Marker) else key


def locate(root: Any, path: Sequence[Any]) -> Position | None:
    """The position of the deepest stamped node along a voluptuous error path."""
    best = position(root)
    node = root
    for raw_key in path:
        key = _plain_key(raw_key)
        exists, child = _child(node, key)
        if not exists:
            break
        best = child_position(node, key) or position(child) or best
        node = child
    return best


def _child(node: Any, key: Any) -> tuple[bool, Any]:
    """(exists, node[key]) for a mapping key or a list index."""
    if isinstance(node, dict):
        try:
            return (True, node[key]) if key in node else (False, None)
        except TypeError:
            return False, None
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return True, node[key]
    return False, None


def _lookup(root: Any, path: Sequence[Any]) -> tuple[bool, Any]:
    node = root
    for raw_key in path:
        exists, node = _child(node, _plain_key(raw_key))
        if not exists:
            return False, None
    return True, node


def format_path(prefix: str, path: Sequence[Any]) -> str:
    """`("automation", [3, "trigger", 0, "entity_id"])` -> `automation[3].trigger[0].entity_id`."""
    text = prefix
    for raw_key in path:
        key = _plain_key(raw_key)
        if isinstance(key, int) and not isinstance(key, bool):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else str(key)
    return text


def _mapping_schema(schema: Any) -> Any:
    """Unwrap `Schema` and `All` down to the dict or list that describes a node."""
    for _ in range(20):
        if isinstance(schema, vol.Schema):
            schema = schema.schema
        elif isinstance(schema, vol.All):
            inner = [v for v in schema.validators if isinstance(v, dict | list | vol.Schema | vol.All)]
            if not inner:
                return schema
            schema = inner[0]
        else:
            return schema
    return schema


def _allowed_keys(schema: Any, path: Sequence[Any]) -> list[str]:
    """The keys a schema accepts at `path` (best effort, for "did you mean" hints)."""
    node = _mapping_schema(schema)
    for raw_key in path:
        key = _plain_key(raw_key)
        if isinstance(node, dict):
            matches = [v for k, v in node.items() if _plain_key(k) == key]
            if not matches:
                return []
            node = _mapping_schema(matches[0])
        elif isinstance(node, list) and len(node) == 1 and isinstance(key, int):
            node = _mapping_schema(node[0])
        else:
            return []
    if not isinstance(node, dict):
        return []
    return [str(_plain_key(k)) for k in node if isinstance(_plain_key(k), str)]


def _unknown_key_hint(key: Any, allowed: Sequence[str]) -> str:
    if not allowed:
        return "not allowed here"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    shown = ", ".join(sorted(allowed)[:12])
    return f"expected one of: {shown}"


def error_from_invalid(err: vol.Invalid, root: Any, prefix: str, schema: Any = None) -> list[ConfigError]:
    """One `ConfigError` per voluptuous error, with file:line, key path, expectation and the found value."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    result = []
    for error in errors:
        path = [_plain_key(p) for p in error.path]
        file, line = _at(locate(root, path))
        msg = str(error.error_message or error.msg)
        if msg == "extra keys not allowed" and path:
            key = path[-1]
            hint = _unknown_key_hint(key, _allowed_keys(schema, path[:-1]) if schema is not None else [])
            text = f"{format_path(prefix, path)}: unknown key '{key}'; {hint}"
        elif msg == "required key not provided" and path:
            text = f"{format_path(prefix, path[:-1])}: expected required key '{path[-1]}', found it missing"
        else:
            exists, value = _lookup(root, path)
            text = f"{format_path(prefix, path)}: {msg}"
            if exists and "found" not in msg:
                text += f"; found {describe_value(value)}"
        result.append(ConfigError(text, file, line))
    return result


# --- the core block --------------------------------------------------------------------------


def _time_zone(value: Any) -> str:
    name = string(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise vol.Invalid(f"expected an IANA time zone such as 'Europe/Amsterdam', found {name!r}") from None
    return name


def _number(low: float, high: float) -> Any:
    return vol.All(vol.Coerce(float), vol.Range(min=low, max=high))


CORE_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): string,
        vol.Optional("time_zone"): _time_zone,
        vol.Optional("latitude"): _number(-90, 90),
        vol.Optional("longitude"): _number(-180, 180),
        vol.Optional("elevation"): vol.Coerce(float),
        vol.Optional("packages"): vol.Any(None, dict),
        vol.Optional("limits"): LIMITS_SCHEMA,
        **{vol.Optional(key): object for key in _IGNORED_CORE_KEYS},
    }
)


# --- packages ----------------------------------------------------------------------------


def _at(pos: Position | None) -> tuple[str | None, int | None]:
    return pos if pos else (None, None)


def _where(pos: Position | None) -> str:
    return f"{pos[0]}:{pos[1]}" if pos else "an earlier place"


def _as_items(value: Any, pos: Position | None) -> list[tuple[Any, Position | None]]:
    """A block as list items with their positions; empty items are dropped (Home Assistant's remove_falsy)."""
    if isinstance(value, list):
        return [(item, child_position(value, i)) for i, item in enumerate(value) if _present(item)]
    return [(value, pos or position(value))] if _present(value) else []


def _present(value: Any) -> bool:
    return not (value is None or (isinstance(value, dict | list | str) and not value))


def _concat(a: Any, pos_a: Position | None, b: Any, pos_b: Position | None) -> NodeList:
    out = stamp(NodeList(), *(position(a) or pos_a or (None, None)))
    for item, pos in [*_as_items(a, pos_a), *_as_items(b, pos_b)]:
        out.append(item)
        out._positions.append(pos)
    return out


def _merge(
    a: Any, pos_a: Position | None, b: Any, pos_b: Position | None, path: str, package: str,
    errors: list[ConfigError],
) -> Any:  # fmt: skip
    """Merge package value `b` into main value `a` as Home Assistant does: lists add up, mappings merge."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, list) or isinstance(b, list):
        return _concat(a, pos_a, b, pos_b)
    if isinstance(a, dict) and isinstance(b, dict):
        out = stamp(NodeDict(a), *(position(a) or (None, None)))
        out._positions = dict(getattr(a, "_positions", {}))
        for key, value in b.items():
            key_pos = child_position(b, key)
            if key in out:
                out[key] = _merge(out[key], out.key_position(key), value, key_pos, f"{path}.{key}", package, errors)
            else:
                out[key] = value
                if key_pos:
                    out._positions[key] = key_pos
        return out
    file, line = _at(pos_b)
    errors.append(
        ConfigError(
            f"package '{package}': {path} is already set at {_where(pos_a)}; "
            f"expected each setting once, found it again with {describe_value(b)}",
            file,
            line,
        )
    )
    return a


def merge_packages(raw: NodeDict, packages: Any, packages_pos: Position | None, errors: list[ConfigError]) -> NodeDict:
    """The configuration with every package's blocks merged in."""
    out = stamp(NodeDict(raw), *(position(raw) or (None, None)))
    out._positions = dict(getattr(raw, "_positions", {}))
    if packages is None:
        return out
    for name, package in packages.items():
        package_pos = child_position(packages, name) or packages_pos
        if package is None:
            continue
        if not isinstance(package, dict):
            file, line = _at(package_pos)
            errors.append(
                ConfigError(
                    f"packages.{name}: expected a mapping of integration blocks, found {describe_value(package)}",
                    file,
                    line,
                )
            )
            continue
        for key, block in package.items():
            key_pos = child_position(package, key) or package_pos
            if domain_of_key(str(key)) in CORE_DOMAINS:
                file, line = _at(key_pos)
                errors.append(ConfigError(f"package '{name}': '{key}' cannot be set inside a package", file, line))
                continue
            if key in out:
                out[key] = _merge(out[key], out.key_position(key), block, key_pos, str(key), str(name), errors)
            else:
                out[key] = block
                if key_pos:
                    out._positions[key] = key_pos
    return out


def merge_split_keys(raw: dict[Any, Any]) -> NodeDict:
    """`automation:` and `automation extra:` into one block per domain, keeping positions.

    Same result as `orbiteos.loader.merge_split_keys` (list blocks concatenated in file order).
    """
    out = NodeDict()
    for key, block in raw.items():
        domain = domain_of_key(str(key))
        key_pos = child_position(raw, key)
        if domain not in out:
            out[domain] = block
            if key_pos:
                out._positions[domain] = key_pos
        else:
            out[domain] = _concat(out[domain], out.key_position(domain), block, key_pos)
    return out


# --- the whole load ----------------------------------------------------------------------


@dataclass
class LoadedConfig:
    """A configuration directory, loaded and validated."""

    config_dir: Path
    raw: NodeDict
    blocks: dict[str, Any] = field(default_factory=dict)
    site: SiteConfig = field(default_factory=SiteConfig)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)
    # domain -> the services its integration provides (from each module's SERVICES).
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The errors no partial start can skip: YAML that does not load, the core block, packages.
    site_errors: list[ConfigError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _site_config(config_dir: Path, raw: NodeDict, errors: list[ConfigError], warnings: list[ConfigError]) -> tuple[
    SiteConfig, Any, Position | None
]:  # fmt: skip
    """The site from `orbiteos:` (or `homeassistant:`), plus the packages value and where it is."""
    site = SiteConfig(config_dir=config_dir)
    present = [k for k in raw if k in CORE_DOMAINS]
    if not present:
        return site, None, None
    key = present[0]
    for other in present[1:]:
        file, line = _at(child_position(raw, other))
        errors.append(ConfigError(f"'{other}' repeats '{key}'; expected one core block, found both", file, line))
    block = raw[key]
    if block is None:
        return site, None, None
    try:
        core = CORE_SCHEMA(block)
    except vol.Invalid as err:
        if not isinstance(block, dict):
            file, line = _at(child_position(raw, key))
            errors.append(ConfigError(f"{key}: expected a mapping, found {describe_value(block)}", file, line))
            return site, None, None
        errors.extend(error_from_invalid(err, block, key, CORE_SCHEMA))
        core = {k: v for k, v in block.items() if k == "packages" and isinstance(v, dict | None)}
    for ignored in _IGNORED_CORE_KEYS:
        if ignored in core:
            file, line = _at(child_position(block, ignored))
            warnings.append(ConfigError(f"{key}.{ignored}: not used by OrbitEOS, ignored", file, line))
    for attr in ("name", "time_zone", "latitude", "longitude", "elevation"):
        if attr in core:
            setattr(site, attr, core[attr])
    if "limits" in core:
        site.limits = limits_from_config(core["limits"])
    return site, core.get("packages"), child_position(block, "packages")


def _optional_kwargs(func: Callable[..., Any], **candidates: Any) -> dict[str, Any]:
    """The keyword arguments `func` declares (or all of them when it takes **kwargs)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return candidates
    return {k: v for k, v in candidates.items() if k in params}


def _validate_block(
    domain: str, block: Any, where: Position | None, loaded: LoadedConfig, errors: list[ConfigError]
) -> tuple[bool, Any]:
    """(ok, validated) for one integration's block; errors without a place get the block key's place."""
    block_errors: list[ConfigError] = []
    ok, validated = _run_validation(domain, block, loaded, block_errors)
    errors.extend(_placed(block_errors, where))
    return ok, validated


def _placed(errors: list[ConfigError], where: Position | None) -> list[ConfigError]:
    """Errors that name no file get `where` (the line of their block's key)."""
    file, line = _at(where)
    return [error if error.file else ConfigError(error.message, file, line) for error in errors]


def _run_validation(domain: str, block: Any, loaded: LoadedConfig, errors: list[ConfigError]) -> tuple[bool, Any]:
    try:
        module = load_integration(domain)
    except Exception as err:
        _LOGGER.debug("importing integration %s failed", domain, exc_info=True)
        errors.append(ConfigError(f"{domain}: the integration failed to import ({type(err).__name__}: {err})"))
        return False, None
    if module is None:
        errors.append(ConfigError(f"{domain}: no integration of this name"))
        return False, None
    for provided_domain, names in (getattr(module, "SERVICES", None) or {}).items():
        known = loaded.services.get(provided_domain, ())
        loaded.services[provided_domain] = tuple(dict.fromkeys([*known, *names]))
    validate = getattr(module, "validate_config", None)
    try:
        if validate is not None:
            extra = _optional_kwargs(validate, config_dir=loaded.config_dir)
            validated, block_errors = validate(block, block, **extra)
            errors.extend(block_errors)
            return True, validated
        schema = getattr(module, "CONFIG_SCHEMA", None)
        if schema is None:
            return True, block
        return True, schema(block)
    except vol.Invalid as err:
        errors.extend(error_from_invalid(err, block, domain, getattr(module, "CONFIG_SCHEMA", None)))
    except Exception as err:
        _LOGGER.debug("validating %s failed", domain, exc_info=True)
        file, line = _at(position(block))
        errors.append(ConfigError(f"{domain}: validation failed ({type(err).__name__}: {err})", file, line))
    return False, None


def load_config(config_dir: Path) -> LoadedConfig:
    """Load and validate `config_dir/configuration.yaml`; every problem goes into `.errors`."""
    config_dir = Path(config_dir)
    loaded_yaml = load_yaml_collecting(config_dir / CONFIG_FILE, Secrets(config_dir), config_dir)
    errors = list(loaded_yaml.errors)
    warnings = list(loaded_yaml.warnings)
    raw: Any = loaded_yaml.data
    if not isinstance(raw, dict):
        top_file, top_line = position(raw) or (CONFIG_FILE, 1)
        message = f"expected a mapping of top-level keys, found {describe_value(raw)}"
        errors.append(ConfigError(message, top_file, top_line))
        raw = stamp(NodeDict(), CONFIG_FILE, 1)
    load_error_places = {(e.file, e.line) for e in errors}

    validation_errors: list[ConfigError] = []
    site, packages, packages_pos = _site_config(config_dir, raw, validation_errors, warnings)
    merged = merge_packages(raw, packages, packages_pos, validation_errors)
    loaded = LoadedConfig(config_dir=config_dir, raw=merged, site=site, warnings=warnings)
    site_errors = [*errors, *validation_errors]

    known = known_domains()
    for key in list(merged):
        domain = domain_of_key(str(key))
        if domain in known:
            continue
        file, line = _at(child_position(merged, key))
        close = difflib.get_close_matches(domain, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else "expected an integration name or a core key"
        validation_errors.append(ConfigError(f"unknown top-level key '{key}'; {hint}", file, line))
        del merged[key]

    by_domain = merge_split_keys(merged)
    for domain, block in by_domain.items():
        if domain in CORE_DOMAINS or domain == "default_config":
            continue
        where = by_domain.key_position(domain)
        if domain == "logger":
            try:
                loaded.blocks["logger"] = LOGGER_SCHEMA(block if block is not None else {})
            except vol.Invalid as err:
                validation_errors.extend(_placed(error_from_invalid(err, block, "logger", LOGGER_SCHEMA), where))
            continue
        if domain in CORE_KEYS:
            continue
        ok, validated = _validate_block(domain, block, where, loaded, validation_errors)
        if ok:
            loaded.blocks[domain] = validated

    # A missing secret or include already has its error; do not report the hole it left again.
    errors.extend(e for e in validation_errors if (e.file, e.line) not in load_error_places)
    loaded.errors = sorted(errors, key=_reading_order)
    loaded.site_errors = sorted(site_errors, key=_reading_order)
    loaded.warnings = sorted(warnings, key=_reading_order)
    return loaded


def _reading_order(error: ConfigError) -> tuple[str, int]:
    """Errors without a file first, then by file and line (a stable sort keeps ties in discovery order)."""
    return (error.file or "", error.line or 0)


def load_config_strict(config_dir: Path) -> LoadedConfig:
    """`load_config`, raising `ConfigErrors` when there is any error."""
    loaded = load_config(config_dir)
    if loaded.errors:
        raise ConfigErrors(f"{len(loaded.errors)} configuration error(s) in {config_dir}", loaded.errors)
    return loaded
