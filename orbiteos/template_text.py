"""Template text helpers as Home Assistant 2024.3 defines them: regular expressions, slugs, base64,
ordinals, struct packing and URL encoding (JSON is in `orbiteos.template_json`)."""

from __future__ import annotations

import base64
import logging
import re
import struct
import urllib.parse
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
