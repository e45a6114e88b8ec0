"""Bad register maps are refused with file:line and what was expected."""

from __future__ import annotations

from pathlib import Path

from orbiteos.config import load_config


def errors_of(tmp_path: Path, modbus_yaml: str) -> list[str]:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: test\nmodbus:\n" + modbus_yaml)
    return [str(e) for e in load_config(tmp_path).errors]


HUB = """\
  - name: plant
    host: 127.0.0.1
"""


def test_overlapping_registers_name_both_values_and_the_line(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HUB + """\
    sensors:
      - name: power
        address: 10
        data_type: int32
      - name: voltage
        address: 11
""")
    assert len(errors) == 1
    assert errors[0].startswith("configuration.yaml:11: modbus[0].sensors[1].address: ")
    assert "sensor 'voltage' (holding registers 11..11) overlaps sensor 'power' (holding registers 10..11)" in errors[0]


def test_the_same_address_in_another_table_or_device_is_no_overlap(tmp_path: Path) -> None:
    assert errors_of(tmp_path, HUB + """\
    sensors:
      - {name: a, address: 10}
      - {name: b, address: 10, input_type: input}
      - {name: c, address: 10, device_id: 2}
""") == []


def test_nature_registers_overlapping_a_sensor_are_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HUB + """\
    sensors:
      - {name: soc, address: 2}
    battery:
      - name: store
        registers:
          power: {address: 0, data_type: int32}
          soc: {address: 1, data_type: uint16}
""")
    assert len(errors) == 1
    assert errors[0].startswith("configuration.yaml:12: modbus[0].battery[0].registers.soc.address: ")


def test_unknown_data_type_lists_the_known_ones(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HUB + """\
    sensors:
      - name: power
        address: 10
        data_type: int24
""")
    assert len(errors) == 1
    assert errors[0].startswith("configuration.yaml:9: modbus[0].sensors[0].data_type: unknown data_type")
    assert "int16, uint16, int32" in errors[0] and "int24" in errors[0]


def test_layout_mistakes_point_at_the_key(tmp_path: Path) -> None:
    cases = {
        "      - {name: s, address: 1, swap: word}\n": "swap word needs a data type of 2 or more registers",
        "      - {name: s, address: 1, data_type: string}\n": "data_type string needs count",
        "      - {name: s, address: 1, data_type: int32, count: 3}\n": "int32 takes 2 register(s), found count 3",
        "      - {name: s, address: 70000}\n": "expected a register address 0-65535",
        "      - {name: s, address: 65535, data_type: int32}\n": "run past 65535",
    }
    for sensor, message in cases.items():
        errors = errors_of(tmp_path, HUB + "    sensors:\n" + sensor)
        assert len(errors) == 1 and message in errors[0], (sensor, errors)
        assert errors[0].startswith("configuration.yaml:7: modbus[0].sensors[0]"), errors[0]


def test_unknown_nature_attribute_and_profile(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HUB + """\
    pv:
      - name: roof
        profile: fronius
""")
    assert len(errors) == 1 and "configuration.yaml:8:" in errors[0] and "expected one of sunspec" in errors[0]
    errors = errors_of(tmp_path, HUB + """\
    battery:
      - name: store
        registers:
          power: {address: 0}
          charge: {address: 1}
""")
    assert len(errors) == 1 and "configuration.yaml:10:" in errors[0] and "unknown battery attribute" in errors[0]


def test_duplicate_entity_and_hub_names_are_refused(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, HUB + """\
    sensors:
      - {name: Power, address: 1}
  - name: plant
    host: 127.0.0.2
    sensors:
      - {name: power, address: 1}
""")
    assert len(errors) == 1 and "hub name 'plant' is already used" in errors[0]
    errors = errors_of(tmp_path, HUB + """\
    sensors:
      - {name: Power, address: 1}
  - name: other
    host: 127.0.0.2
    sensors:
      - {name: power, address: 1}
""")
    assert len(errors) == 1 and "configuration.yaml:11:" in errors[0]
    assert "sensor.power is already defined at modbus[0].sensors[0]" in errors[0]
