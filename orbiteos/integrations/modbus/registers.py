"""Register values: data types, byte/word swap, scale/offset/precision, both directions.

A `ValueSpec` says where a value lives (`address`, `count` registers) and how its raw bits turn
into a number: `data_type`, `swap`, then `value = raw * scale * 10**sf + offset`, rounded to
`precision`. `sf_address` names a SunSpec scale-factor register (int16 exponent) on the same device.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# name -> (struct format, registers per value); `string` takes its size from `count`.
DATA_TYPES: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "float16": ("e", 1),
    "float32": ("f", 2),
    "float64": ("d", 4),
    "string": ("s", 0),
}
SWAPS = ("none", "byte", "word", "word_byte")
INPUT_TYPES = ("holding", "input")
# SunSpec "not implemented" marker of a scale factor register.
SUNSSF_NOT_IMPLEMENTED = -32768


class RegisterDecodeError(ValueError):
    """Registers that cannot be read as the declared value (wrong size, NaN, missing scale factor)."""


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """Where a value sits in a device's registers and how to read and write it."""

    address: int
    data_type: str = "int16"
    input_type: str = "holding"
    count: int = 0  # registers; 0 means "as the data type needs"
    swap: str = "none"
    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = None
    sf_address: int | None = None

    @property
    def register_count(self) -> int:
        return self.count or register_count(self.data_type, 1)

    @property
    def end(self) -> int:
        """One past the last register."""
        return self.address + self.register_count


def register_count(data_type: str, count: int) -> int:
    """Registers one value of `data_type` occupies (`count` registers for strings)."""
    try:
        per_value = DATA_TYPES[data_type][1]
    except KeyError:
        raise ValueError(f"unknown data_type {data_type!r}; expected one of {', '.join(DATA_TYPES)}") from None
    return count if per_value == 0 else per_value


def _swap(registers: Sequence[int], swap: str) -> list[int]:
    regs = list(registers)
    if swap in ("word", "word_byte"):
        regs.reverse()
    if swap in ("byte", "word_byte"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return regs


def unpack(registers: Sequence[int], data_type: str, swap: str = "none") -> int | float | str:
    """Raw value of registers (no scale): `[0x0001, 0x0002]` as int32 -> 65538."""
    fmt, per_value = DATA_TYPES[data_type]
    if per_value and len(registers) != per_value:
        raise RegisterDecodeError(f"{data_type} needs {per_value} registers, got {len(registers)}")
    raw = b"".join(r.to_bytes(2, "big") for r in _swap(registers, swap))
    if data_type == "string":
        return raw.rstrip(b"\x00 ").decode("utf-8", errors="replace")
    return struct.unpack(">" + fmt, raw)[0]


def pack(raw: int | float | str, data_type: str, swap: str = "none", count: int = 0) -> list[int]:
    """Registers for a raw value; raises ValueError when it does not fit the data type."""
    fmt = DATA_TYPES[data_type][0]
    if data_type == "string":
        data = str(raw).encode("utf-8")
        size = 2 * (count or (len(data) + 1) // 2)
        if len(data) > size:
            raise ValueError(f"string of {len(data)} bytes does not fit in {size // 2} registers")
        data = data.ljust(size, b"\x00")
    else:
        value = float(raw) if fmt in "efd" else int(raw)
        try:
            data = struct.pack(">" + fmt, value)
        except (struct.error, OverflowError):
            raise ValueError(f"{raw!r} does not fit in {data_type}") from None
    registers = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return _swap(registers, swap)  # swapping is its own inverse


def _scale_factor(spec: ValueSpec, image: Mapping[int, int]) -> int:
    if spec.sf_address is None:
        return 0
    try:
        sf = unpack([image[spec.sf_address]], "int16")
    except KeyError:
        raise RegisterDecodeError(f"scale factor register {spec.sf_address} was not read") from None
    if sf == SUNSSF_NOT_IMPLEMENTED or not -10 <= int(sf) <= 10:
        raise RegisterDecodeError(f"scale factor register {spec.sf_address} holds {sf}, expected -10..10")
    return int(sf)


def decode(spec: ValueSpec, image: Mapping[int, int]) -> int | float | str:
    """The value of `spec` from a register image (address -> register), scaled and rounded."""
    try:
        registers = [image[a] for a in range(spec.address, spec.end)]
    except KeyError as err:
        raise RegisterDecodeError(f"register {err.args[0]} was not read") from None
    raw = unpack(registers, spec.data_type, spec.swap)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, float) and not math.isfinite(raw):
        raise RegisterDecodeError(f"register {spec.address} holds {raw}")
    sf = _scale_factor(spec, image)
    if spec.scale == 1.0 and spec.offset == 0.0 and sf == 0 and isinstance(raw, int) and spec.precision is None:
        return raw
    value = raw * spec.scale * (10.0**sf) + spec.offset
    if spec.precision is None:
        # Strip float noise such as 0.30000000000000004 without hiding real digits.
        return round(value, 10)
    return int(round(value)) if spec.precision == 0 else round(value, spec.precision)


def encode(spec: ValueSpec, value: float | str, image: Mapping[int, int] | None = None) -> list[int]:
    """Registers that make `spec` read back as `value` (the inverse of `decode`)."""
    if spec.data_type == "string":
        return pack(str(value), "string", spec.swap, spec.register_count)
    sf = _scale_factor(spec, image or {}) if spec.sf_address is not None else 0
    divisor = spec.scale * (10.0**sf)
    if divisor == 0:
        raise ValueError(f"register {spec.address}: scale 0 cannot be written")
    raw = (float(value) - spec.offset) / divisor
    if DATA_TYPES[spec.data_type][0] not in "efd":
        raw = int(round(raw))
    return pack(raw, spec.data_type, spec.swap, spec.register_count)
