"""`to_json` and `from_json` as Home Assistant 2024.3's templates have them.

Home Assistant writes JSON with orjson: compact (`{"a":1}`), non-ASCII kept, `pretty_print` indented by
two spaces, floats in the shortest form that reads back (`1e16`, `1.5e-7`, `0.00001`, where Python's
json module writes `1e+16`, `1.5e-07`, `1e-05`), a non-finite float as `null`, integers within 64
bits, and anything that is not JSON data (a datetime, a set) an error. This writes the same text
without orjson. `ensure_ascii=True` falls back to the json module there, and here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

_INT_RANGE = range(-(2**63), 2**64)


def format_float(value: float) -> str:
    """A finite float as orjson writes it (the shortest digits, in ryu's layout)."""
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # The decimal point sits `point` digits into `digits` (negative: zeros before them).
    point = len(whole.lstrip("0")) + int(exponent_text or 0) if whole != "0" else \
        int(exponent_text or 0) - (len(fraction) - len(fraction.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    if len(digits) <= point <= 16:
        text = digits + "0" * (point - len(digits)) + ".0"
    elif 0 < point <= 16:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -5 < point <= 0:
        text = "0." + "0" * -point + digits
    elif len(digits) == 1:
        text = f"{digits}e{point - 1}"
    else:
        text = f"{digits[0]}.{digits[1:]}e{point - 1}"
    return sign + text


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return format_float(key) if math.isfinite(key) else "null"
    raise TypeError(f"Dict key of type {type(key).__name__} is not JSON serializable")


def _write(value: Any, out: list[str], indent: str | None, sort_keys: bool) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool):
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, int):
        if value not in _INT_RANGE:
            raise TypeError("Integer exceeds 64-bit range")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_float(value) if math.isfinite(value) else "null")
    elif isinstance(value, Mapping):
        items = [(_key(key), item) for key, item in value.items()]
        if sort_keys:
            items.sort(key=lambda pair: pair[0])
        _write_container("{", "}", items, out, indent, sort_keys)
    elif isinstance(value, list | tuple):
        _write_container("[", "]", [(None, item) for item in value], out, indent, sort_keys)
    else:
        raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _write_container(open_: str, close: str, items: Sequence[tuple[str | None, Any]], out: list[str],
                     indent: str | None, sort_keys: bool) -> None:
    if not items:
        out.append(open_ + close)
        return
    inner = None if indent is None else indent + "  "
    out.append(open_)
    for index, (key, item) in enumerate(items):
        if index:
            out.append(",")
        if inner is not None:
            out.append("\n" + inner)
        if key is not None:
            out.append(json.dumps(key, ensure_ascii=False) + (": " if inner is not None else ":"))
        _write(item, out, inner, sort_keys)
    if indent is not None:
        out.append("\n" + indent)
    out.append(close)


def to_json(value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False) -> str:
    if ensure_ascii:
        return json.dumps(value, ensure_ascii=True, indent=2 if pretty_print else None, sort_keys=sort_keys)
    out: list[str] = []
    _write(value, out, "" if pretty_print else None, sort_keys)
    return "".join(out)


def from_json(value: Any) -> Any:
    return json.loads(value)
