"""The YAML loader: positions on every node, the Home Assistant tags, and errors that name file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbiteos.errors import ConfigError
from orbiteos.yaml_loader import (
    ConfigErrors,
    Input,
    NodeDict,
    NodeList,
    NodeStr,
    Secrets,
    child_position,
    load_yaml,
    load_yaml_collecting,
    parse_yaml,
    position,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_container_and_string_carries_file_and_line(tmp_path: Path) -> None:
    main = write(
        tmp_path / "configuration.yaml",
        "# comment\nsite:\n  name: Depot\n  limits:\n    - 10\n    - grid\n",
    )
    data = load_yaml(main)
    assert isinstance(data, NodeDict)
    assert position(data) == ("configuration.yaml", 2)
    assert position(data["site"]) == ("configuration.yaml", 3)
    assert isinstance(data["site"]["name"], NodeStr)
    assert position(data["site"]["name"]) == ("configuration.yaml", 3)
    limits = data["site"]["limits"]
    assert isinstance(limits, NodeList)
    assert child_position(limits, 0) == ("configuration.yaml", 5)  # an int: located through its list
    assert position(limits[1]) == ("configuration.yaml", 6)
    assert child_position(data["site"], "limits") == ("configuration.yaml", 4)


def test_include_stamps_nodes_with_the_included_file(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "automation: !include automations.yaml\n")
    write(tmp_path / "automations.yaml", "- alias: one\n- alias: two\n")
    data = load_yaml(tmp_path / "configuration.yaml")
    assert [a["alias"] for a in data["automation"]] == ["one", "two"]
    assert position(data["automation"][1]) == ("automations.yaml", 2)
    assert child_position(data, "automation") == ("configuration.yaml", 1)


def test_include_dir_named_keys_by_file_stem(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "packages: !include_dir_named packages\n")
    write(tmp_path / "packages" / "battery.yaml", "battery_sim:\n  capacity_kwh: 100\n")
    write(tmp_path / "packages" / "sub" / "pv.yaml", "pv_sim: {}\n")
    write(tmp_path / "packages" / ".hidden" / "x.yaml", "ignored: true\n")
    write(tmp_path / "packages" / "notes.txt", "not yaml")
    data = load_yaml(tmp_path / "configuration.yaml")
    assert sorted(data["packages"]) == ["battery", "pv"]
    assert data["packages"]["battery"]["battery_sim"]["capacity_kwh"] == 100
    assert position(data["packages"]["pv"]) == ("packages/sub/pv.yaml", 1)


def test_include_dir_lists_and_merges(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "a: !include_dir_list items\nb: !include_dir_merge_list lists\nc: !include_dir_merge_named named\n",
    )
    write(tmp_path / "items" / "1.yaml", "x: 1\n")
    write(tmp_path / "items" / "2.yaml", "x: 2\n")
    write(tmp_path / "lists" / "1.yaml", "- one\n- two\n")
    write(tmp_path / "lists" / "2.yaml", "- three\n")
    write(tmp_path / "named" / "1.yaml", "k1: 1\n")
    write(tmp_path / "named" / "2.yaml", "\n\nk2: 2\n")
    data = load_yaml(tmp_path / "configuration.yaml")
    assert data["a"] == [{"x": 1}, {"x": 2}]
    assert data["b"] == ["one", "two", "three"]
    assert child_position(data["b"], 2) == ("lists/2.yaml", 1)
    assert data["c"] == {"k1": 1, "k2": 2}
    assert child_position(data["c"], "k2") == ("named/2.yaml", 3)


def test_secret_is_found_in_the_files_directory_then_parents(tmp_path: Path) -> None:
    write(tmp_path / "secrets.yaml", "token: top\nport: 1883\n")
    write(tmp_path / "packages" / "secrets.yaml", "token: near\n")
    write(tmp_path / "configuration.yaml", "p: !include packages/p.yaml\nport: !secret port\n")
    write(tmp_path / "packages" / "p.yaml", "token: !secret token\nport: !secret port\n")
    data = load_yaml(tmp_path / "configuration.yaml", Secrets(tmp_path))
    assert data["p"]["token"] == "near"
    assert data["p"]["port"] == 1883
    assert data["port"] == 1883


def test_missing_secret_names_file_line_and_where_it_looked(tmp_path: Path) -> None:
    write(tmp_path / "secrets.yaml", "other: 1\n")
    write(tmp_path / "configuration.yaml", "mqtt:\n  password: !secret mqtt_password\n")
    with pytest.raises(ConfigErrors) as info:
        load_yaml(tmp_path / "configuration.yaml", Secrets(tmp_path))
    (error,) = info.value.errors
    assert str(error) == (
        "configuration.yaml:2: !secret mqtt_password: expected the secret in secrets.yaml, found no such name"
    )


def test_bad_include_path_names_file_line_and_the_path(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: 1\nautomation: !include nowhere.yaml\nb: !include_dir_list gone\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml", Secrets(tmp_path))
    texts = [str(e) for e in result.errors]
    assert texts[0].startswith("configuration.yaml:2: !include nowhere.yaml: expected an existing file, found none at")
    assert texts[1].startswith("configuration.yaml:3: !include_dir_list gone: expected an existing directory")
    assert result.data["a"] == 1


def test_malformed_yaml_is_one_error_with_the_line_not_a_traceback(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: 1\nb:\n  - x\n  y: 2\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    (error,) = result.errors
    assert error.file == "configuration.yaml"
    assert error.line == 4
    assert str(error).startswith("configuration.yaml:4: invalid YAML: ")


def test_malformed_yaml_in_an_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "automation: !include automations.yaml\n")
    write(tmp_path / "automations.yaml", "- alias: ok\n- alias: [broken\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    (error,) = result.errors
    assert error.file == "automations.yaml"
    assert error.line is not None and error.line >= 2


def test_tab_indentation_is_reported_with_its_line(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a:\n\tb: 1\n")
    (error,) = load_yaml_collecting(tmp_path / "configuration.yaml").errors
    assert error.line == 2
    assert "cannot start any token" in error.message


def test_unknown_tag_is_an_error_with_its_line(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: 1\nb: !nonsense x\n")
    (error,) = load_yaml_collecting(tmp_path / "configuration.yaml").errors
    assert error.line == 2
    assert "!nonsense" in error.message


def test_env_var_with_and_without_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORBITEOS_TEST_HOST", "broker.local")
    monkeypatch.delenv("ORBITEOS_TEST_UNSET", raising=False)
    write(
        tmp_path / "configuration.yaml",
        "host: !env_var ORBITEOS_TEST_HOST\nport: !env_var ORBITEOS_TEST_UNSET 1883\n"
        "user: !env_var ORBITEOS_TEST_UNSET\n",
    )
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert result.data["host"] == "broker.local"
    assert result.data["port"] == "1883"
    (error,) = result.errors
    assert str(error) == (
        "configuration.yaml:3: !env_var ORBITEOS_TEST_UNSET: "
        "expected the environment variable to be set or a default, found neither"
    )


def test_input_tag_is_kept_as_a_marker(tmp_path: Path) -> None:
    write(tmp_path / "bp.yaml", "trigger:\n  entity_id: !input meter\n")
    data = load_yaml(tmp_path / "bp.yaml")
    marker = data["trigger"]["entity_id"]
    assert marker == Input("meter")
    assert position(marker) == ("bp.yaml", 2)


def test_duplicate_key_is_a_warning_naming_both_lines(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: 1\nb: 2\na: 3\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert result.data["a"] == 3
    (warning,) = result.warnings
    assert str(warning) == "configuration.yaml:3: duplicate key 'a' (first at line 1): the later value wins"


def test_include_loop_is_an_error_not_a_recursion(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: !include a.yaml\n")
    write(tmp_path / "a.yaml", "b: !include configuration.yaml\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert any("include loop" in e.message for e in result.errors)


def test_merge_keys_and_anchors_work(tmp_path: Path) -> None:
    write(tmp_path / "c.yaml", "base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2\n")
    data = load_yaml(tmp_path / "c.yaml")
    assert data["other"] == {"x": 1, "y": 2}


def test_empty_file_loads_as_empty_mapping(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "# nothing yet\n")
    assert load_yaml(tmp_path / "configuration.yaml") == {}


def test_parse_yaml_reports_the_given_name() -> None:
    assert parse_yaml("a: [1, 2]\n") == {"a": [1, 2]}
    with pytest.raises(ConfigErrors) as info:
        parse_yaml("a: [1, 2\n", "inline.yaml")
    assert info.value.errors[0].file == "inline.yaml"


def test_load_errors_are_also_caught_as_a_single_config_error(tmp_path: Path) -> None:
    write(tmp_path / "bp.yaml", "a: !secret nope\nb: !include none.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path / "bp.yaml")
    err = info.value
    assert isinstance(err, ConfigErrors)
    assert (err.file, err.line) == ("bp.yaml", 1)
    assert err.message.startswith("!secret nope: expected the secret in secrets.yaml")
    assert err.message.endswith("(and 1 more error(s))")
    assert [e.line for e in err.errors] == [1, 2]
    assert str(err).splitlines()[1] == f"bp.yaml:1: {err.errors[0].message}"


def test_merge_list_file_that_is_not_a_list_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: !include_dir_merge_list lists\n")
    write(tmp_path / "lists" / "1.yaml", "- one\n")
    write(tmp_path / "lists" / "2.yaml", "\nnot: a list\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert result.data["a"] == ["one"]
    assert [str(e) for e in result.errors] == [
        "lists/2.yaml:2: !include_dir_merge_list: expected a list in this file, found a mapping (keys: not)"
    ]


def test_merge_named_key_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: !include_dir_merge_named named\n")
    write(tmp_path / "named" / "1.yaml", "pump: 1\n")
    write(tmp_path / "named" / "2.yaml", "fan: 2\npump: 3\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert result.data["a"] == {"pump": 1, "fan": 2}
    assert [str(e) for e in result.errors] == [
        "named/2.yaml:2: !include_dir_merge_named: key 'pump' is also defined at named/1.yaml:1"
    ]


def test_tag_without_an_argument_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "a: !include\nb: !secret [x]\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert [str(e) for e in result.errors] == [
        "configuration.yaml:1: !include: expected a file or name after the tag, found nothing",
        "configuration.yaml:2: !secret: expected a file or name after the tag, found a list",
    ]


def test_mapping_as_a_key_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "? {a: 1}\n: x\nb: 2\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml")
    assert result.data == {"b": 2}
    (error,) = result.errors
    assert error.line == 1
    assert "a mapping key must be a plain value, found a mapping" in error.message


def test_secrets_file_with_bad_yaml_is_reported_at_its_own_line(tmp_path: Path) -> None:
    write(tmp_path / "secrets.yaml", "ok: 1\nbad: [\n")
    write(tmp_path / "configuration.yaml", "a: !secret ok\n")
    result = load_yaml_collecting(tmp_path / "configuration.yaml", Secrets(tmp_path))
    (error,) = result.errors
    assert error.file == "secrets.yaml"
    assert error.message.startswith("invalid YAML")


def test_secrets_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "secrets.yaml", "- a\n")
    write(tmp_path / "configuration.yaml", "a: !secret a\n")
    (error,) = load_yaml_collecting(tmp_path / "configuration.yaml", Secrets(tmp_path)).errors
    assert str(error) == "secrets.yaml:1: expected a mapping of secret names to values, found a list of 1 item(s)"


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_bytes(b"a: \xff\xfe\n")
    (error,) = load_yaml_collecting(tmp_path / "configuration.yaml").errors
    assert error.file == "configuration.yaml"
    assert "not UTF-8 text" in error.message


def test_secret_outside_the_config_dir_falls_back_to_the_config_dirs_file(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    write(config_dir / "secrets.yaml", "key: inside\n")
    write(tmp_path / "shared" / "bp.yaml", "value: !secret key\n")
    write(config_dir / "configuration.yaml", "x: !include ../shared/bp.yaml\n")
    data = load_yaml(config_dir / "configuration.yaml", Secrets(config_dir))
    assert data["x"]["value"] == "inside"
    assert position(data["x"]) == (str((tmp_path / "shared" / "bp.yaml").resolve()), 1)
