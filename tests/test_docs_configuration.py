"""docs/configuration.md is true: its example directory loads, its broken one prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orbiteos.cli import main as cli_main
from orbiteos.config import CORE_SCHEMA, load_config, parse_yaml
from orbiteos.logging_setup import LOGGER_SCHEMA

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
FILE_BLOCK = re.compile(r"```yaml\n# file: (?P<path>\S+)\n(?P<body>.*?)```", re.S)
CONSOLE_BLOCK = re.compile(r"```console\n\$ orbiteos check -c broken\n(?P<output>.*?)```", re.S)


def write_doc_files(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = list(FILE_BLOCK.finditer(text))
    assert len(blocks) >= 5
    for block in blocks:
        target = tmp_path / block["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block["body"], encoding="utf-8")


def test_example_directory_in_the_page_loads_without_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORBITEOS_SITE_NAME", raising=False)
    write_doc_files(tmp_path)
    loaded = load_config(tmp_path)
    assert loaded.errors == []
    assert loaded.site.name == "Riverside school"
    assert loaded.site.latitude == 52.09
    assert [a["id"] for a in loaded.raw["automation"]] == ["evening_battery_hold", "night_battery_auto"]
    assert loaded.blocks["logger"]["logs"] == {"orbiteos.automation": "debug"}


def test_broken_example_prints_exactly_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_doc_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["check", "-c", "broken"]) == 1
    match = CONSOLE_BLOCK.search(DOC.read_text(encoding="utf-8"))
    assert match is not None
    assert capsys.readouterr().out == match["output"]


def test_every_other_yaml_snippet_parses_and_logger_snippets_validate() -> None:
    snippets = re.findall(r"```yaml\n(?!# file:)(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(snippets) >= 3
    for snippet in snippets:
        data = parse_yaml(snippet.replace("!include_dir_named packages", "{}"), "docs/configuration.md")
        if "logger" in data:
            LOGGER_SCHEMA(data["logger"])
        if "orbiteos" in data:
            CORE_SCHEMA(data["orbiteos"])
