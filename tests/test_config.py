"""Loading a configuration directory: packages, split keys, per-integration validation and its errors."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

import orbiteos.config as config_module
from orbiteos.config import (
    ConfigErrors,
    error_from_invalid,
    format_path,
    load_config,
    load_config_strict,
    locate,
)
from orbiteos.errors import ConfigError
from orbiteos.loader import known_domains
from orbiteos.validation import entity_id, positive_int
from orbiteos.yaml_loader import load_yaml

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# Two stand-in integrations registered under orbiteos.integrations for these tests only.
GADGET_SCHEMA = vol.Schema(
    {
        vol.Required("host"): str,
        vol.Optional("port", default=502): positive_int,
        vol.Optional("sensors", default=[]): [{vol.Required("entity_id"): entity_id, vol.Optional("scale"): float}],
    }
)


seen_config_dirs: list[Path | None] = []


def _validate_things(block: Any, root: Any, config_dir: Path | None = None) -> tuple[list[Any], list[ConfigError]]:
    """Validates each item on its own and keeps the good ones (the automation engine's way)."""
    seen_config_dirs.append(config_dir)
    good, errors = [], []
    for index, item in enumerate(block or []):
        try:
            good.append(vol.Schema({vol.Required("id"): str})(item))
        except vol.Invalid as err:
            errors.extend(error_from_invalid(err, item, f"thing[{index}]"))
    return good, errors


@pytest.fixture(autouse=True)
def fake_integrations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    gadget = types.ModuleType("orbiteos.integrations.gadget")
    gadget.DOMAIN = "gadget"  # type: ignore[attr-defined]
    gadget.CONFIG_SCHEMA = GADGET_SCHEMA  # type: ignore[attr-defined]
    gadget.SERVICES = {"gadget": ("reset",), "battery": ("set_power",)}  # type: ignore[attr-defined]
    thing = types.ModuleType("orbiteos.integrations.thing")
    thing.DOMAIN = "thing"  # type: ignore[attr-defined]
    thing.validate_config = _validate_things  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orbiteos.integrations.gadget", gadget)
    monkeypatch.setitem(sys.modules, "orbiteos.integrations.thing", thing)
    monkeypatch.setattr(config_module, "known_domains", lambda: sorted({*known_domains(), "gadget", "thing"}))
    yield


def messages(errors: list[ConfigError]) -> list[str]:
    return [str(e) for e in errors]


def test_example_configuration_loads_without_errors() -> None:
    loaded = load_config(REPO / "config.example")
    assert loaded.errors == []
    assert loaded.site.name == "Demo depot"
    assert loaded.site.time_zone == "Europe/Amsterdam"
    assert loaded.site.config_dir == REPO / "config.example"


def test_site_block_accepts_homeassistant_alias(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "homeassistant:\n  name: Farm\n  latitude: 51.5\n  unit_system: metric\n")
    loaded = load_config(tmp_path)
    assert loaded.errors == []
    assert (loaded.site.name, loaded.site.latitude) == ("Farm", 51.5)
    assert messages(loaded.warnings) == [
        "configuration.yaml:4: homeassistant.unit_system: not used by OrbitEOS, ignored"
    ]


def test_wrong_type_names_file_line_key_expected_and_found(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "gadget:\n  host: plc.local\n  port: lots\n")
    loaded = load_config(tmp_path)
    assert messages(loaded.errors) == ["configuration.yaml:3: gadget.port: expected int; found 'lots'"]
    assert "gadget" not in loaded.blocks


def test_error_deep_in_a_list_gives_indexed_path_and_the_items_line(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "gadget:\n  host: plc\n  sensors:\n    - entity_id: sensor.a\n    - entity_id: sensor.b\n      scale: [1]\n",
    )
    (error,) = load_config(tmp_path).errors
    assert (error.file, error.line) == ("configuration.yaml", 6)
    assert error.message == "gadget.sensors[1].scale: expected float; found a list of 1 item(s)"


def test_unknown_key_inside_a_block_suggests_the_nearest_one(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "gadget:\n  host: plc\n  prot: 502\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:3: gadget.prot: unknown key 'prot'; did you mean 'port'?"
    ]


def test_missing_required_key_names_the_mapping_and_the_key(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos:\n  name: x\ngadget:\n  port: 5020\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:4: gadget: expected required key 'host', found it missing"
    ]


def test_unknown_top_level_key_names_the_nearest_domain(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos:\n  name: x\n\nautomaton:\n  - alias: a\n")
    loaded = load_config(tmp_path)
    assert messages(loaded.errors) == [
        "configuration.yaml:4: unknown top-level key 'automaton'; did you mean 'automation'?"
    ]


def test_unknown_top_level_key_with_nothing_close(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "zzqx: 1\n")
    (error,) = load_config(tmp_path).errors
    assert (
        str(error) == "configuration.yaml:1: unknown top-level key 'zzqx'; expected an integration name or a core key"
    )


def test_bad_site_values_are_reported(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos:\n  time_zone: Mars/Olympus\n  latitude: 123\n  nmae: x\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:2: orbiteos.time_zone: expected an IANA time zone such as 'Europe/Amsterdam', "
        "found 'Mars/Olympus'",
        "configuration.yaml:3: orbiteos.latitude: value must be at most 90; found 123 (int)",
        "configuration.yaml:4: orbiteos.nmae: unknown key 'nmae'; did you mean 'name'?",
    ]


def test_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "- a\n- b\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:1: expected a mapping of top-level keys, found a list of 2 item(s)"
    ]


def test_missing_configuration_file(tmp_path: Path) -> None:
    (error,) = load_config(tmp_path).errors
    assert error.file == "configuration.yaml"
    assert "expected a YAML file, found none" in error.message


def test_missing_secret_is_reported_once_not_again_as_a_wrong_type(tmp_path: Path) -> None:
    write(tmp_path / "secrets.yaml", "x: 1\n")
    write(tmp_path / "configuration.yaml", "gadget:\n  host: !secret plc_host\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:2: !secret plc_host: expected the secret in secrets.yaml, found no such name"
    ]


def test_packages_merge_lists_and_mappings_with_positions(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "orbiteos:\n  packages: !include_dir_named packages\nthing:\n  - id: main\ngadget:\n  host: plc\n",
    )
    write(tmp_path / "packages" / "extra.yaml", "thing:\n  - id: from_package\n  - id: 5\ngadget:\n  port: 5020\n")
    loaded = load_config(tmp_path)
    assert loaded.blocks["thing"] == [{"id": "main"}, {"id": "from_package"}]
    assert loaded.blocks["gadget"]["port"] == 5020
    assert messages(loaded.errors) == ["packages/extra.yaml:3: thing[2].id: expected str; found 5 (int)"]


def test_package_conflict_names_both_places(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "orbiteos:\n  packages:\n    site_a: !include a.yaml\ngadget:\n  host: plc\n",
    )
    write(tmp_path / "a.yaml", "gadget:\n  host: other\n")
    (error,) = load_config(tmp_path).errors
    assert str(error) == (
        "a.yaml:2: package 'site_a': gadget.host is already set at configuration.yaml:5; "
        "expected each setting once, found it again with 'other'"
    )


def test_package_must_be_a_mapping_and_cannot_hold_the_core_block(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "orbiteos:\n  packages:\n    bad: [1, 2]\n    core:\n      orbiteos:\n        name: x\n",
    )
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:3: packages.bad: expected a mapping of integration blocks, found a list of 2 item(s)",
        "configuration.yaml:5: package 'core': 'orbiteos' cannot be set inside a package",
    ]


def test_split_keys_are_concatenated_and_keep_their_lines(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "thing:\n  - id: a\nthing extra:\n  - id: b\n  - idd: c\n")
    loaded = load_config(tmp_path)
    assert loaded.blocks["thing"] == [{"id": "a"}, {"id": "b"}]
    assert messages(loaded.errors) == [
        "configuration.yaml:5: thing[2].idd: unknown key 'idd'; not allowed here",
        "configuration.yaml:5: thing[2]: expected required key 'id', found it missing",
    ]


def test_validate_config_keeps_good_items_and_reports_bad_ones(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "thing:\n  - id: a\n  - id: [x]\n  - id: c\n")
    seen_config_dirs.clear()
    loaded = load_config(tmp_path)
    assert seen_config_dirs == [tmp_path]
    assert loaded.blocks["thing"] == [{"id": "a"}, {"id": "c"}]
    assert messages(loaded.errors) == ["configuration.yaml:3: thing[1].id: expected str; found a list of 1 item(s)"]


def test_services_declared_by_integrations_are_collected(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "gadget:\n  host: plc\n")
    assert load_config(tmp_path).services == {"gadget": ("reset",), "battery": ("set_power",)}


def test_logger_block_is_validated(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "logger:\n  default: loud\n  logs:\n    orbiteos.core: debug\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:2: logger.default: expected a log level (critical, fatal, error, warning, warn, "
        "info, debug, notset), found 'loud'"
    ]


def test_strict_load_raises_every_error_together(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "gadget:\n  port: x\nautomaton: []\n")
    with pytest.raises(ConfigErrors) as info:
        load_config_strict(tmp_path)
    assert len(info.value.exceptions) == 3
    assert all(isinstance(e, ConfigError) for e in info.value.exceptions)


def test_integration_that_fails_to_import_is_an_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(domain: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(config_module, "load_integration", broken)
    write(tmp_path / "configuration.yaml", "gadget:\n  host: plc\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:1: gadget: the integration failed to import (RuntimeError: boom)"
    ]


def test_format_path_and_locate(tmp_path: Path) -> None:
    assert format_path("automation", [3, "trigger", 0, "entity_id"]) == "automation[3].trigger[0].entity_id"
    assert format_path("", ["a", 1]) == "a[1]"
    write(tmp_path / "c.yaml", "automation:\n  - alias: x\n    trigger:\n      - platform: state\n        for: 5\n")
    root = load_yaml(tmp_path / "c.yaml")
    assert locate(root, ["automation", 0, "trigger", 0, "for"]) == ("c.yaml", 5)
    assert locate(root, ["automation", 0, "trigger", 0, "missing"]) == ("c.yaml", 4)
    assert locate(root, [vol.Required("automation"), 7]) == ("c.yaml", 1)


def test_both_core_blocks_is_an_error_and_the_first_wins(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos:\n  name: A\nhomeassistant:\n  name: B\n")
    loaded = load_config(tmp_path)
    assert loaded.site.name == "A"
    assert messages(loaded.errors) == [
        "configuration.yaml:3: 'homeassistant' repeats 'orbiteos'; expected one core block, found both"
    ]


def test_core_block_that_is_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos: Depot\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:1: orbiteos: expected a mapping, found 'Depot'"
    ]


def test_config_error_from_an_included_automation_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "thing: !include things.yaml\n")
    write(tmp_path / "things.yaml", "- id: a\n\n- id: {x: 1}\n")
    assert messages(load_config(tmp_path).errors) == [
        "things.yaml:3: thing[1].id: expected str; found a mapping (keys: x)"
    ]


def test_errors_about_an_empty_or_scalar_block_point_at_its_key(tmp_path: Path) -> None:
    write(tmp_path / "configuration.yaml", "orbiteos:\n  name: x\ngadget:\nlogger: 5\n")
    assert messages(load_config(tmp_path).errors) == [
        "configuration.yaml:3: gadget: expected a dictionary; found nothing (an empty value)",
        "configuration.yaml:4: logger: expected a dictionary; found 5 (int)",
    ]


def test_split_key_merge_gives_the_same_blocks_as_the_loaders_merge(tmp_path: Path) -> None:
    from orbiteos.config import merge_split_keys
    from orbiteos.loader import merge_split_keys as loader_merge

    write(
        tmp_path / "c.yaml",
        "automation:\n  - a: 1\nautomation 2:\n  b: 2\nsim:\n  seed: 1\nautomation extra:\nscript x: 3\n",
    )
    raw = load_yaml(tmp_path / "c.yaml")
    assert merge_split_keys(raw) == loader_merge(raw)


def test_empty_blocks_add_nothing_when_lists_are_merged(tmp_path: Path) -> None:
    write(
        tmp_path / "configuration.yaml",
        "orbiteos:\n  packages: !include_dir_named packages\nthing: !include things.yaml\nthing 2:\n",
    )
    write(tmp_path / "things.yaml", "")
    write(tmp_path / "packages" / "p.yaml", "thing:\n  - id: a\n  - {}\n")
    loaded = load_config(tmp_path)
    assert loaded.errors == []
    assert loaded.blocks["thing"] == [{"id": "a"}]
