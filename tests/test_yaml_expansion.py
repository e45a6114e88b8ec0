"""YAML aliases are bounded: an alias bomb is a file:line error in well under a second, not a MemoryError."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbiteos.yaml_loader import MAX_EXPANDED_NODES, ConfigErrors, load_yaml, parse_yaml
from tests.cli.test_run_check import orbiteos

LAUGHS = (
    "orbiteos:\n  name: Bomb\na: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
)
MERGE_BOMB = "a: &a {x: 1, y: 2}\n" + "".join(
    f"{b}: &{b} {{<<: [*{a}], {b}1: *{a}, {b}2: *{a}, {b}3: *{a}}}\n"
    for a, b in zip("abcdefghijklmn", "bcdefghijklmno", strict=True)
)


def test_billion_laughs_is_an_error_at_the_line_that_explodes(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(LAUGHS)
    with pytest.raises(ConfigErrors) as caught:
        load_yaml(tmp_path / "configuration.yaml")
    (error,) = caught.value.errors
    assert (error.file, error.line) == ("configuration.yaml", 8)
    assert f"expands to more than {MAX_EXPANDED_NODES:,} values through its aliases" in error.message


def test_a_merge_key_bomb_is_refused_too() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_yaml(MERGE_BOMB, "bomb.yaml")
    assert "alias bomb" in str(caught.value)


def test_a_structure_that_holds_itself_is_refused() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_yaml("a: &a\n  - x\n  - *a\n", "loop.yaml")
    assert "loop.yaml:1" in str(caught.value) and "contains an alias of itself" in str(caught.value)


def test_ordinary_anchors_still_load() -> None:
    data = parse_yaml(
        "base: &base {mode: single, max: 10}\nautomation:\n  - <<: *base\n    id: one\n  - <<: *base\n    id: two\n"
    )
    assert [dict(a) for a in data["automation"]] == [
        {"mode": "single", "max": 10, "id": "one"},
        {"mode": "single", "max": 10, "id": "two"},
    ]


def test_check_reports_the_bomb_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(LAUGHS)
    result = orbiteos("check", "-c", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith("configuration.yaml:8: invalid YAML: this list expands to more than")
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
