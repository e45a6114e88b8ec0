"""Register decoding and encoding: data types, swaps, scale/offset/precision, SunSpec scale factors."""

from __future__ import annotations

import pytest

from orbiteos.integrations.modbus.registers import RegisterDecodeError, ValueSpec, decode, encode, pack, unpack


def image(address: int, registers: list[int]) -> dict[int, int]:
    return {address + i: r for i, r in enumerate(registers)}


@pytest.mark.parametrize(
    ("data_type", "value", "registers"),
    [
        ("int16", -2, [0xFFFE]),
        ("uint16", 65535, [0xFFFF]),
        ("int32", -70000, [0xFFFE, 0xEE90]),
        ("uint32", 70000, [0x0001, 0x1170]),
        ("int64", -1, [0xFFFF] * 4),
        ("float32", 1.5, [0x3FC0, 0x0000]),
        ("float64", 1.5, [0x3FF8, 0, 0, 0]),
    ],
)
def test_big_endian_values_pack_and_unpack(data_type: str, value: float, registers: list[int]) -> None:
    assert pack(value, data_type) == registers
    assert unpack(registers, data_type) == value


@pytest.mark.parametrize(
    ("swap", "registers"),
    [("none", [0x0102, 0x0304]), ("byte", [0x0201, 0x0403]), ("word", [0x0304, 0x0102]),
     ("word_byte", [0x0403, 0x0201])],
)
def test_swaps_reorder_bytes_and_words(swap: str, registers: list[int]) -> None:
    assert unpack(registers, "uint32", swap) == 0x01020304
    assert pack(0x01020304, "uint32", swap) == registers


def test_scale_offset_and_precision_apply_in_order() -> None:
    spec = ValueSpec(address=10, data_type="int16", scale=0.1, offset=-40.0, precision=1)
    assert decode(spec, image(10, [653])) == 25.3
    assert encode(spec, 25.3) == [653]


def test_precision_zero_gives_whole_numbers() -> None:
    spec = ValueSpec(address=0, data_type="uint16", scale=0.3, precision=0)
    assert decode(spec, {0: 7}) == 2
    assert isinstance(decode(spec, {0: 7}), int)


def test_sunspec_scale_factor_is_read_from_its_register() -> None:
    spec = ValueSpec(address=100, data_type="int16", sf_address=101, scale=0.001)
    assert decode(spec, {100: 1234, 101: pack(1, "int16")[0]}) == 12.34
    assert encode(spec, 12.34, {101: pack(1, "int16")[0]}) == [1234]


def test_unimplemented_scale_factor_is_an_error_not_a_number() -> None:
    spec = ValueSpec(address=100, sf_address=101)
    with pytest.raises(RegisterDecodeError, match="-32768"):
        decode(spec, {100: 1, 101: 0x8000})


def test_missing_register_and_nan_are_decode_errors() -> None:
    with pytest.raises(RegisterDecodeError, match="register 1 was not read"):
        decode(ValueSpec(address=0, data_type="uint32"), {0: 1})
    with pytest.raises(RegisterDecodeError, match="nan"):
        decode(ValueSpec(address=0, data_type="float32"), {0: 0x7FC0, 1: 0})


def test_strings_are_padded_and_stripped() -> None:
    spec = ValueSpec(address=0, data_type="string", count=4)
    registers = encode(spec, "ABC")
    assert len(registers) == 4
    assert decode(spec, image(0, registers)) == "ABC"


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit in uint16"):
        encode(ValueSpec(address=0, data_type="uint16"), -1)
    with pytest.raises(ValueError, match="does not fit in int16"):
        encode(ValueSpec(address=0, data_type="int16", scale=0.001), 40.0)
