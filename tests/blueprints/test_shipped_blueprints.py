"""Every shipped blueprint loads, its defaults fit its selectors, docs/blueprints.md documents each
of its inputs with an example that validates, and the demo site uses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orbiteos.automation import validate_config
from orbiteos.automation.blueprint import load_blueprint
from orbiteos.automation.selector import check_value
from orbiteos.config import load_config, parse_yaml
from tests.blueprints.demo_site import CONFIG_EXAMPLE, REPO, SHIPPED

DOCS = REPO / "docs" / "blueprints.md"
BLUEPRINTS = sorted(SHIPPED.glob("*.yaml"))
NAMES = [p.stem for p in BLUEPRINTS]


def shipped_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    return text[text.index("## Shipped blueprints"):]


def blueprint_section(name: str) -> str:
    """The docs section whose heading names `orbiteos/<name>.yaml`."""
    sections = re.split(r"(?m)^### ", shipped_section())
    matching = [s for s in sections if f"`orbiteos/{name}.yaml`" in s.splitlines()[0]]
    assert len(matching) == 1, f"docs/blueprints.md has no section for orbiteos/{name}.yaml"
    return matching[0]


def test_all_six_energy_blueprints_ship() -> None:
    assert NAMES == ["congestion_response", "dynamic_tariff", "follow_plan", "frequency_response", "peak_shaving",
                     "pv_surplus_ev"]


@pytest.mark.parametrize("path", BLUEPRINTS, ids=NAMES)
def test_blueprint_loads_and_its_defaults_fit_their_selectors(path: Path) -> None:
    blueprint = load_blueprint(path)
    assert blueprint.domain == "automation"
    assert blueprint.author == "OrbitEOS"
    assert blueprint.description
    for name, spec in blueprint.inputs.items():
        assert spec.label, f"input {name} has no name"
        # An empty default means "none" for an optional entity (the blueprint checks for '').
        if not spec.required and spec.default != "":
            check_value(spec.selector, spec.default)


@pytest.mark.parametrize("name", NAMES)
def test_docs_list_every_input_and_their_example_validates(name: str) -> None:
    section = blueprint_section(name)
    blueprint = load_blueprint(SHIPPED / f"{name}.yaml")
    documented = set(re.findall(r"(?m)^\| `([a-z_]+)`(?:, `([a-z_]+)`)?(?:, `([a-z_]+)`)?", section))
    documented_names = {n for row in documented for n in row if n}
    assert documented_names == set(blueprint.inputs)
    examples = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert len(examples) == 1
    validated, errors = validate_config(parse_yaml(examples[0], "docs/blueprints.md"))
    assert not errors, [str(e) for e in errors]
    assert len(validated) == 1 and validated[0]["actions"]
    assert "**" in section, "the section states its measured effect in bold"


def test_demo_site_uses_every_shipped_blueprint_and_checks_clean() -> None:
    loaded = load_config(CONFIG_EXAMPLE)
    assert not loaded.errors, [str(e) for e in loaded.errors]
    automations = yaml.safe_load((CONFIG_EXAMPLE / "packages" / "automations.yaml").read_text(encoding="utf-8"))
    used = {a["use_blueprint"]["path"] for a in automations["automation"] if "use_blueprint" in a}
    assert used == {f"orbiteos/{name}.yaml" for name in NAMES}
    # load_config expanded and validated them all (no errors above): as many as written.
    assert len(loaded.blocks["automation"]) == len(automations["automation"])
