"""docs/api.md and the demo's http package hold configurations that validate."""

from __future__ import annotations

import re
from pathlib import Path

from orbiteos.config import parse_yaml
from orbiteos.integrations.http import CONFIG_SCHEMA

REPO = Path(__file__).resolve().parents[3]


def yaml_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown.read_text(), flags=re.DOTALL)


def test_api_doc_configuration_validates() -> None:
    (block,) = yaml_blocks(REPO / "docs" / "api.md")
    config = CONFIG_SCHEMA(parse_yaml(block, "docs/api.md")["http"])
    assert config["server_port"] == 8123
    assert config["cors_allowed_origins"] == ["https://dashboard.example"]
    assert config["max_body_size"] == 1024 * 1024


def test_demo_package_validates() -> None:
    path = REPO / "config.example" / "packages" / "http.yaml"
    config = CONFIG_SCHEMA(parse_yaml(path.read_text(), str(path))["http"])
    assert config["server_port"] == 8123
