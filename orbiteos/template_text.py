"""Template text helpers as Home Assistant 2024.3 defines them: regular expressions, JSON, slugs.

`to_json` writes what Home Assistant's orjson writes: compact (`{"a":1}`), non-ASCII kept, a
non-finite float as `null`, and anything that is not plain JSON data an error (a datetime too);
`ensure_ascii=True` falls back to the json module's spaced, escaped form, as it does there.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import struct
import urllib.parse
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from orbiteos.entity import slugify as _slugify

_LOGGER = logging.getLogger(__name__)

_regex = lru_cache(maxsize=128)(re.compile)


def regex_match(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    return bool(_regex(find, re.IGNORECASE if ignorecase else 0).match(str(value)))


def regex_search(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    return bool(_regex(find, re.IGNORECASE if ignorecase else 0).search(str(value)))


def regex_replace(value: Any, find: str = "", replace: str = "", ignorecase: bool = False) -> str:
    return _regex(find, re.IGNORECASE if ignorecase else 0).sub(replace, str(value))


def regex_findall(value: Any, find: str = "", ignorecase: bool = False) -> list[Any]:
    return _regex(find, re.IGNORECASE if ignorecase else 0).findall(str(value))


def regex_findall_index(value: Any, find: str = "", index: int = 0, ignorecase: bool = False) -> Any:
    """The `index`th match (an IndexError, so a template error, when there are fewer)."""
    return regex_findall(value, find, ignorecase)[index]


def slugify(value: Any, separator: str = "_") -> str:
    """`'Überschuß laden!'` -> `uberschuss_laden`; `''` and None give `''`; no letters or digits
    -> `unknown`; anything but text is an error (`12 | slugify`), as in Home Assistant."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise TypeError(f"slugify expected text, got {type(value).__name__} {value!r}")
    return _slugify(value, separator)


def _plain(value: Any) -> Any:
    """What orjson would write for `value`: read-only mappings as dicts, tuples as lists,
    non-finite floats as None; a type JSON has no form for is a TypeError."""
    if isinstance(value, str | bool | int | type(None)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return json.dumps(key)
    raise TypeError(f"Dict key of type {type(key).__name__} is not JSON serializable")


def to_json(value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False) -> str:
    if ensure_ascii:
        return json.dumps(value, ensure_ascii=True, indent=2 if pretty_print else None, sort_keys=sort_keys)
    return json.dumps(
        _plain(value),
        ensure_ascii=False,
        indent=2 if pretty_print else None,
        separators=(",", ": ") if pretty_print else (",", ":"),
        sort_keys=sort_keys,
        allow_nan=False,
    )


def from_json(value: Any) -> Any:
    return json.loads(value)


def base64_encode(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("utf-8")


def base64_decode(value: Any) -> str:
    return base64.b64decode(value).decode("utf-8")


def ordinal(value: Any) -> str:
    """`1 | ordinal` -> `1st`, `12` -> `12th`, `23` -> `23rd`."""
    text = str(value)
    if int(text[-2:]) % 100 in range(11, 14):
        return text + "th"
    return text + (["th", "st", "nd", "rd"] + ["th"] * 6)[int(text[-1]) % 10]


def pack(value: Any, format_string: str) -> bytes | None:
    """`struct.pack` of one value; None (logged) when the format does not fit it, as Home Assistant."""
    try:
        return struct.pack(format_string, value)
    except struct.error as err:
        _LOGGER.warning("template 'pack' could not pack %r with format %r: %s", value, format_string, err)
        return None


def unpack(value: bytes, format_string: str, offset: int = 0) -> Any:
    """The first value `struct.unpack_from` reads; None (logged) when it cannot."""
    try:
        return struct.unpack_from(format_string, value, offset)[0]
    except struct.error as err:
        _LOGGER.warning("template 'unpack' could not unpack %r with format %r: %s", value, format_string, err)
        return None


def urlencode(value: Any) -> bytes:
    return urllib.parse.urlencode(value).encode("utf-8")
