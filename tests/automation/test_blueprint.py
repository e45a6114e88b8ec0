"""Blueprint loading, input validation against selectors, and `use_blueprint` expansion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orbiteos.automation.blueprint import BlueprintError, expand_use_blueprint, load_blueprint

SAMPLES = Path(__file__).parent / "blueprint_samples"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "blueprints" / "automation" / "sample"
    target.mkdir(parents=True)
    for sample in SAMPLES.glob("*.yaml"):
        shutil.copy(sample, target / sample.name)
    return tmp_path


def test_home_assistant_blueprint_loads_with_unknown_selectors() -> None:
    blueprint = load_blueprint(SAMPLES / "zone_notify.yaml")
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {"person_entity", "zone_entity", "notify_device", "message", "level"}
    assert blueprint.inputs["message"].section == "options"
    assert not blueprint.inputs["level"].required
    assert blueprint.inputs["person_entity"].required


def test_use_blueprint_substitutes_inputs_and_keeps_own_keys(config_dir: Path) -> None:
    automation = {
        "id": "hall_light",
        "alias": "Hall light",
        "use_blueprint": {
            "path": "sample/motion_light.yaml",
            "input": {
                "motion_entity": "binary_sensor.hall_motion",
                "light_target": {"entity_id": "light.hall"},
            },
        },
    }
    expanded = expand_use_blueprint(automation, config_dir)
    assert expanded["id"] == "hall_light"
    assert expanded["mode"] == "restart"
    assert expanded["triggers"][0]["entity_id"] == "binary_sensor.hall_motion"
    assert expanded["actions"][0]["target"] == {"entity_id": "light.hall"}
    assert expanded["actions"][2]["delay"] == 120


def test_missing_required_input_names_input_and_blueprint(config_dir: Path) -> None:
    automation = {
        "use_blueprint": {"path": "sample/motion_light.yaml", "input": {"light_target": {"entity_id": "light.a"}}}
    }
    with pytest.raises(BlueprintError, match="missing input 'motion_entity' required by blueprint 'Motion-activated"):
        expand_use_blueprint(automation, config_dir)


def test_unknown_input_is_an_error(config_dir: Path) -> None:
    automation = {
        "use_blueprint": {
            "path": "sample/motion_light.yaml",
            "input": {"motion_entity": "binary_sensor.a", "light_target": {}, "colour": "red"},
        }
    }
    with pytest.raises(BlueprintError, match="unknown input 'colour'"):
        expand_use_blueprint(automation, config_dir)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"motion_entity": "light.kitchen"}, "expected an entity of domain binary_sensor, found 'light.kitchen'"),
        ({"motion_entity": "binary_sensor.a", "no_motion_wait": 7200}, "expected a number <= 3600"),
        ({"motion_entity": "binary_sensor.a", "no_motion_wait": "soon"}, "expected a number, found 'soon'"),
    ],
)
def test_value_that_does_not_fit_its_selector_says_why(config_dir: Path, inputs: dict, message: str) -> None:
    automation = {
        "use_blueprint": {"path": "sample/motion_light.yaml", "input": {"light_target": {}, **inputs}}
    }
    with pytest.raises(BlueprintError, match=message):
        expand_use_blueprint(automation, config_dir)


def test_select_selector_refuses_other_options(config_dir: Path) -> None:
    automation = {
        "use_blueprint": {
            "path": "sample/zone_notify.yaml",
            "input": {
                "person_entity": "person.ann",
                "zone_entity": "zone.home",
                "notify_device": "abc123",
                "level": "panic",
            },
        }
    }
    with pytest.raises(BlueprintError, match="expected one of info, warning, critical, found 'panic'"):
        expand_use_blueprint(automation, config_dir)


def test_not_a_blueprint_is_refused_with_file_and_line() -> None:
    with pytest.raises(BlueprintError, match="top-level 'blueprint:'") as caught:
        load_blueprint(SAMPLES / "not_a_blueprint.yaml")
    assert caught.value.file and caught.value.file.endswith("not_a_blueprint.yaml")


def test_unknown_blueprint_path_is_an_error(config_dir: Path) -> None:
    with pytest.raises(BlueprintError, match="not found"):
        expand_use_blueprint({"use_blueprint": {"path": "nobody/nothing.yaml"}}, config_dir)
