"""YAML loading in the Home Assistant dialect, with every node stamped with its file and line.

Mappings load as `NodeDict`, sequences as `NodeList`, strings as `NodeStr`; each carries
`__config_file__` (relative to the config directory where possible) and `__line__` (1-based).
Containers also remember the position of each key / item, so numbers and booleans, which
cannot carry attributes, are still located through their parent (`locate`).

Tags: `!include`, `!include_dir_named`, `!include_dir_merge_named`, `!include_dir_list`,
`!include_dir_merge_list`, `!secret`, `!env_var NAME [default]` and `!input NAME` (kept as an
`Input` marker for blueprints). Problems with tags are collected, not raised one by one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orbiteos.errors import ConfigError

Position = tuple[str, int]

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SECRETS_FILE = "secrets.yaml"


class ConfigErrors(ExceptionGroup, ConfigError):  # type: ignore[misc, type-arg]
    """Every error of one load, raised together.

    Also a `ConfigError`, so `except ConfigError` catches it: `file`, `line` and `message` are the
    first error's (the message says how many more there are); `errors` has them all.
    """

    def __new__(cls, summary: str, errors: Sequence[ConfigError]) -> ConfigErrors:
        return super().__new__(cls, summary, list(errors))

    def __init__(self, summary: str, errors: Sequence[ConfigError]) -> None:
        ExceptionGroup.__init__(self, summary, list(errors))

    def derive(self, excs: Any) -> ConfigErrors:  # type: ignore[override]
        return ConfigErrors(self.summary, list(excs))

    @property
    def summary(self) -> str:
        return str(self.args[0])

    @property
    def errors(self) -> list[ConfigError]:
        return list(self.exceptions)  # type: ignore[arg-type]

    @property  # type: ignore[override]
    def message(self) -> str:  # type: ignore[override]
        first = self.errors[0].message
        more = len(self.exceptions) - 1
        return f"{first} (and {more} more error(s))" if more else first

    @property  # type: ignore[override]
    def file(self) -> str | None:  # type: ignore[override]
        return self.errors[0].file

    @property  # type: ignore[override]
    def line(self) -> int | None:  # type: ignore[override]
        return self.errors[0].line

    def __str__(self) -> str:
        return "\n".join([self.summary, *(str(e) for e in self.exceptions)])


class NodeDict(dict):  # type: ignore[type-arg]
    """A mapping from a YAML file; `_positions` maps each key to where it was written."""

    __config_file__: str | None = None
    __line__: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._positions: dict[Any, Position] = {}

    def key_position(self, key: Any) -> Position | None:
        return self.__dict__.get("_positions", {}).get(key)


class NodeList(list):  # type: ignore[type-arg]
    """A sequence from a YAML file; `_positions[i]` is where item i was written."""

    __config_file__: str | None = None
    __line__: int | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._positions: list[Position | None] = []

    def item_position(self, index: int) -> Position | None:
        positions = self.__dict__.get("_positions", [])
        return positions[index] if 0 <= index < len(positions) else None


class NodeStr(str):
    """A string from a YAML file."""

    __config_file__: str | None = None
    __line__: int | None = None


@dataclass(frozen=True)
class Input:
    """A blueprint `!input NAME` placeholder, substituted when the blueprint is used."""

    name: str
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def __config_file__(self) -> str | None:
        return self.file

    @property
    def __line__(self) -> int | None:
        return self.line


def stamp(node: Any, file: str | None, line: int | None) -> Any:
    """Set `__config_file__` and `__line__` on a node (no-op for values that cannot carry them)."""
    if isinstance(node, NodeDict | NodeList | NodeStr):
        node.__config_file__ = file
        node.__line__ = line
    return node


def position(node: Any) -> Position | None:
    """`(file, line)` of a stamped node, or None."""
    file = getattr(node, "__config_file__", None)
    line = getattr(node, "__line__", None)
    if file is None or line is None:
        return None
    return str(file), int(line)


# --- secrets ----------------------------------------------------------------------------


class Secrets:
    """`secrets.yaml` files, looked up from a file's directory up to the config directory."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir).resolve()
        self._cache: dict[Path, dict[str, Any]] = {}

    def search_dirs(self, requester: Path) -> list[Path]:
        start = Path(requester).resolve().parent
        if not start.is_relative_to(self.config_dir):
            return [start, self.config_dir] if start != self.config_dir else [self.config_dir]
        dirs = [start]
        while dirs[-1] != self.config_dir:
            dirs.append(dirs[-1].parent)
        return dirs

    def get(self, requester: Path, name: str) -> tuple[bool, Any, list[Path]]:
        """(found, value, secrets files searched)."""
        searched = []
        for directory in self.search_dirs(requester):
            secrets_path = directory / SECRETS_FILE
            searched.append(secrets_path)
            values = self._load(secrets_path)
            if name in values:
                return True, values[name], searched
        return False, None, searched

    def _load(self, secrets_path: Path) -> dict[str, Any]:
        if secrets_path not in self._cache:
            values: Any = {}
            if secrets_path.is_file():
                context = _Context(self.config_dir, None)
                values = context.load_file(secrets_path) or {}
                if context.errors:
                    raise ConfigErrors(f"cannot read {context.display(secrets_path)}", context.errors)
                if not isinstance(values, dict):
                    raise ConfigError(
                        f"expected a mapping of secret names to values, found {describe_value(values)}",
                        context.display(secrets_path),
                        1,
                    )
            self._cache[secrets_path] = {k: v for k, v in values.items() if k != "logger"}
        return self._cache[secrets_path]


# --- the loader ---------------------------------------------------------------------------


class _Context:
    """State of one load: where the config lives, the secrets, and what went wrong."""

    def __init__(self, config_dir: Path, secrets: Secrets | None) -> None:
        self.config_dir = Path(config_dir).resolve()
        self.secrets = secrets
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigError] = []
        self._stack: list[Path] = []

    def display(self, path: Path) -> str:
        resolved = Path(path).resolve()
        if resolved.is_relative_to(self.config_dir):
            return resolved.relative_to(self.config_dir).as_posix()
        return str(path)

    def load_file(self, path: Path) -> Any:
        """Load one file; None for an empty file. Syntax errors are recorded, not raised."""
        resolved = Path(path).resolve()
        shown = self.display(path)
        if resolved in self._stack:
            chain = " -> ".join(self.display(p) for p in [*self._stack, resolved])
            self.errors.append(ConfigError(f"include loop: {chain}", shown))
            return None
        try:
            text = resolved.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            self.errors.append(ConfigError(f"cannot read file: not UTF-8 text ({err.reason})", shown))
            return None
        except OSError as err:
            self.errors.append(ConfigError(f"cannot read file: {err.strerror or err}", shown))
            return None
        self._stack.append(resolved)
        try:
            loader = _Loader(text, resolved, shown, self)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
        except yaml.MarkedYAMLError as err:
            self.errors.append(_error_from_yaml(err, shown))
        except yaml.YAMLError as err:
            self.errors.append(ConfigError(f"invalid YAML: {err}", shown))
        finally:
            self._stack.pop()
        return None


def _error_from_yaml(err: yaml.MarkedYAMLError, shown: str) -> ConfigError:
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = err.problem or "syntax error"
    context = f" ({err.context}" if err.context else ""
    marks = (err.context_mark, err.problem_mark)
    if context and marks[0] is not None and marks[1] is not None and marks[0].line != marks[1].line:
        context += f" at line {marks[0].line + 1}"
    if context:
        context += ")"
    return ConfigError(f"invalid YAML: {problem}{context}", shown, line)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that stamps nodes and knows the Home Assistant tags."""

    def __init__(self, stream: str, file: Path, shown: str, context: _Context) -> None:
        super().__init__(stream)
        self.file = file
        self.shown = shown
        self.context = context

    def line_of(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    def construct_document(self, node: yaml.Node) -> Any:
        check_expansion(node)  # before anything is built from it
        return super().construct_document(node)

    def error(self, node: yaml.Node, message: str) -> None:
        self.context.errors.append(ConfigError(message, self.shown, self.line_of(node)))

    def scalar_argument(self, node: yaml.Node, tag: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.error(node, f"{tag}: expected a file or name after the tag, found {_node_kind(node)}")
            return None
        return str(node.value).strip()


# Nodes one file may stand for once its aliases are expanded: a real configuration has a few
# thousand; "billion laughs" (aliases of aliases) stands for billions while being a few lines long.
MAX_EXPANDED_NODES = 100_000


def check_expansion(root: yaml.Node) -> None:
    """Refuse a document that expands to more than MAX_EXPANDED_NODES nodes, or that holds itself.

    Counted on the composed graph (an alias is the node it names, so it is counted at each use)
    without expanding anything: each node's size is computed once, bottom-up, without recursion.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not children_done:
            if key in open_nodes:
                raise yaml.constructor.ConstructorError(
                    None, None, "an anchor that contains an alias of itself (a recursive structure)",
                    node.start_mark,
                )
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        size = 1 + sum(sizes[id(child)] for child in children)
        if size > MAX_EXPANDED_NODES:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"this {_node_kind(node)[2:]} expands to more than {MAX_EXPANDED_NODES:,} values through its "
                "aliases (anchors used inside anchors); expected a configuration, found an alias bomb",
                node.start_mark,
            )
        sizes[key] = size


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}" if node.value else "nothing"


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> NodeDict:
    loader.flatten_mapping(node)
    out = stamp(NodeDict(), loader.shown, loader.line_of(node))
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = loader.line_of(key_node)
        try:
            hash(key)
        except TypeError:
            loader.error(key_node, f"invalid key: a mapping key must be a plain value, found {describe_value(key)}")
            continue
        if key in out:
            first = out.key_position(key)
            where = f" (first at line {first[1]})" if first else ""
            loader.context.warnings.append(
                ConfigError(f"duplicate key {key!r}{where}: the later value wins", loader.shown, line)
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out._positions[key] = (loader.shown, line)
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> NodeList:
    out = stamp(NodeList(), loader.shown, loader.line_of(node))
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out._positions.append((loader.shown, loader.line_of(item)))
    return out


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> NodeStr:
    return stamp(NodeStr(loader.construct_scalar(node)), loader.shown, loader.line_of(node))


def _resolve(loader: _Loader, name: str) -> Path:
    return (loader.file.parent / os.path.expanduser(name)).resolve()


def _include(loader: _Loader, node: yaml.Node) -> Any:
    name = loader.scalar_argument(node, "!include")
    if name is None:
        return None
    target = _resolve(loader, name)
    if not target.is_file():
        loader.error(node, f"!include {name}: expected an existing file, found none at {target}")
        return None
    loaded = loader.context.load_file(target)
    return NodeDict() if loaded is None else loaded


def _yaml_files(loader: _Loader, node: yaml.Node, tag: str) -> list[Path] | None:
    name = loader.scalar_argument(node, tag)
    if name is None:
        return None
    directory = _resolve(loader, name)
    if not directory.is_dir():
        loader.error(node, f"{tag} {name}: expected an existing directory, found none at {directory}")
        return None
    return sorted(_walk_yaml(directory))


def _walk_yaml(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in files:
            if file.endswith(".yaml") and not file.startswith(".") and file != SECRETS_FILE:
                yield Path(root) / file


def _include_dir_named(loader: _Loader, node: yaml.Node) -> NodeDict | None:
    files = _yaml_files(loader, node, "!include_dir_named")
    if files is None:
        return None
    out = stamp(NodeDict(), loader.shown, loader.line_of(node))
    for path in files:
        loaded = loader.context.load_file(path)
        out[path.stem] = NodeDict() if loaded is None else loaded
        out._positions[path.stem] = (loader.context.display(path), 1)
    return out


def _include_dir_list(loader: _Loader, node: yaml.Node) -> NodeList | None:
    files = _yaml_files(loader, node, "!include_dir_list")
    if files is None:
        return None
    out = stamp(NodeList(), loader.shown, loader.line_of(node))
    for path in files:
        loaded = loader.context.load_file(path)
        out.append(NodeDict() if loaded is None else loaded)
        out._positions.append(position(loaded) or (loader.context.display(path), 1))
    return out


def _include_dir_merge_list(loader: _Loader, node: yaml.Node) -> NodeList | None:
    files = _yaml_files(loader, node, "!include_dir_merge_list")
    if files is None:
        return None
    out = stamp(NodeList(), loader.shown, loader.line_of(node))
    for path in files:
        loaded = loader.context.load_file(path)
        if loaded is None:
            continue
        if not isinstance(loaded, list):
            pos = position(loaded) or (loader.context.display(path), 1)
            loader.context.errors.append(
                ConfigError(
                    f"!include_dir_merge_list: expected a list in this file, found {describe_value(loaded)}", *pos
                )
            )
            continue
        for index, item in enumerate(loaded):
            out.append(item)
            out._positions.append(_item_position(loaded, index))
    return out


def _include_dir_merge_named(loader: _Loader, node: yaml.Node) -> NodeDict | None:
    files = _yaml_files(loader, node, "!include_dir_merge_named")
    if files is None:
        return None
    out = stamp(NodeDict(), loader.shown, loader.line_of(node))
    for path in files:
        loaded = loader.context.load_file(path)
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            pos = position(loaded) or (loader.context.display(path), 1)
            loader.context.errors.append(
                ConfigError(
                    f"!include_dir_merge_named: expected a mapping in this file, found {describe_value(loaded)}", *pos
                )
            )
            continue
        for key, value in loaded.items():
            here = _key_position(loaded, key) or (loader.context.display(path), 1)
            if key in out:
                first = out.key_position(key)
                where = f"{first[0]}:{first[1]}" if first else "another file"
                loader.context.errors.append(
                    ConfigError(f"!include_dir_merge_named: key {key!r} is also defined at {where}", *here)
                )
                continue
            out[key] = value
            out._positions[key] = here
    return out


def _secret(loader: _Loader, node: yaml.Node) -> Any:
    name = loader.scalar_argument(node, "!secret")
    if name is None:
        return None
    secrets = loader.context.secrets
    if secrets is None:
        loader.error(node, f"!secret {name}: secrets are not available while loading this file")
        return None
    try:
        found, value, searched = secrets.get(loader.file, name)
    except ConfigErrors as group:
        loader.context.errors.extend(group.errors)
        return None
    except ConfigError as err:
        loader.context.errors.append(err)
        return None
    if not found:
        looked = ", ".join(loader.context.display(p) for p in searched)
        loader.error(node, f"!secret {name}: expected the secret in {looked}, found no such name")
        return None
    if isinstance(value, str):
        return stamp(NodeStr(value), loader.shown, loader.line_of(node))
    return value


def _env_var(loader: _Loader, node: yaml.Node) -> Any:
    argument = loader.scalar_argument(node, "!env_var")
    if argument is None:
        return None
    name, *default = argument.split()
    value = os.environ.get(name)
    if value is None:
        if not default:
            loader.error(
                node, f"!env_var {name}: expected the environment variable to be set or a default, found neither"
            )
            return None
        value = " ".join(default)
    return stamp(NodeStr(value), loader.shown, loader.line_of(node))


def _input(loader: _Loader, node: yaml.Node) -> Input | None:
    name = loader.scalar_argument(node, "!input")
    if name is None:
        return None
    return Input(name, loader.shown, loader.line_of(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("!include", _include)
_Loader.add_constructor("!include_dir_named", _include_dir_named)
_Loader.add_constructor("!include_dir_merge_named", _include_dir_merge_named)
_Loader.add_constructor("!include_dir_list", _include_dir_list)
_Loader.add_constructor("!include_dir_merge_list", _include_dir_merge_list)
_Loader.add_constructor("!secret", _secret)
_Loader.add_constructor("!env_var", _env_var)
_Loader.add_constructor("!input", _input)


# --- public API ---------------------------------------------------------------------------


@dataclass
class YamlLoad:
    """The outcome of loading one file: the tree plus every error and warning met on the way."""

    data: Any
    errors: list[ConfigError]
    warnings: list[ConfigError]


def load_yaml_collecting(path: Path, secrets: Secrets | None = None, config_dir: Path | None = None) -> YamlLoad:
    """Load `path`, collecting errors instead of raising; an empty file loads as `{}`."""
    path = Path(path)
    base = config_dir or (secrets.config_dir if secrets is not None else path.parent)
    context = _Context(base, secrets)
    if not path.is_file():
        error = ConfigError(f"expected a YAML file, found none at {path}", context.display(path))
        return YamlLoad(NodeDict(), [error], [])
    data = context.load_file(path)
    if data is None:
        data = stamp(NodeDict(), context.display(path), 1)
    return YamlLoad(data, context.errors, context.warnings)


def load_yaml(path: Path, secrets: Secrets | None = None) -> Any:
    """Load a YAML file with the OrbitEOS tags; raises `ConfigErrors` naming every problem."""
    path = Path(path)
    if secrets is None:
        secrets = Secrets(path.parent)
    result = load_yaml_collecting(path, secrets)
    if result.errors:
        raise ConfigErrors(f"{len(result.errors)} error(s) loading {path}", result.errors)
    return result.data


def parse_yaml(text: str, file: str = "<string>") -> Any:
    """Load YAML text (no includes or secrets relative to a real file); raises `ConfigErrors`."""
    context = _Context(Path.cwd(), None)
    try:
        loader = _Loader(text, Path.cwd() / file, file, context)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        context.errors.append(_error_from_yaml(err, file))
        data = None
    if context.errors:
        raise ConfigErrors(f"{len(context.errors)} error(s) in {file}", context.errors)
    return data


def _key_position(node: Any, key: Any) -> Position | None:
    return node.key_position(key) if isinstance(node, NodeDict) else None


def _item_position(node: Any, index: int) -> Position | None:
    return node.item_position(index) if isinstance(node, NodeList) else None


def child_position(node: Any, key: Any) -> Position | None:
    """Where `node[key]` was written: the key's line in a mapping, the item's line in a list."""
    if isinstance(node, dict):
        return _key_position(node, key) or (position(node[key]) if key in node else None)
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return _item_position(node, key) or position(node[key])
    return None


def describe_value(value: Any, limit: int = 60) -> str:
    """A short phrase for what was found: `'abc'`, `42 (int)`, `a mapping`, `a list`, `nothing`."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, Input):
        return f"!input {value.name}"
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:5])
        return f"a mapping (keys: {keys})" if keys else "an empty mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)" if value else "an empty list"
    if isinstance(value, str):
        text = str.__repr__(value)
        return text if len(text) <= limit else text[: limit - 4] + "...'"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"
