"""`orbiteos blueprint import|list|reimport` against a real local HTTP server."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.blueprint_import import ImportFailed, import_blueprint, raw_url, reimport
from orbiteos.cli import main

SAMPLES = Path(__file__).parent / "automation" / "blueprint_samples"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on a free loopback port serving a copy of the sample blueprints."""
    root = tmp_path / "www"
    shutil.copytree(SAMPLES, root)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_github_and_gist_pages_rewrite_to_raw() -> None:
    assert (
        raw_url("https://github.com/someone/blueprints/blob/main/automation/light.yaml")
        == "https://raw.githubusercontent.com/someone/blueprints/main/automation/light.yaml"
    )
    assert raw_url("https://gist.github.com/someone/0123abcd") == "https://gist.githubusercontent.com/someone/0123abcd/raw"
    assert raw_url("https://example.org/x.yaml") == "https://example.org/x.yaml"


def test_import_from_url_saves_under_author_and_keeps_source_url(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    config = tmp_path / "config"
    result = import_blueprint(f"{base}/motion_light.yaml", config)
    assert result.path == config / "blueprints/automation/sample_author/motion_light.yaml"
    text = result.path.read_text()
    assert f"source_url: {base}/motion_light.yaml" in text
    assert "# A blueprint in the shape people publish" in text  # saved as published
    assert result.blueprint.source_url == f"{base}/motion_light.yaml"


def test_import_without_author_uses_host(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    result = import_blueprint(f"{base}/zone_notify.yaml", tmp_path)
    assert result.path.parent.name == "127_0_0_1"


def test_import_refuses_invalid_and_existing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(ImportFailed, match="not a valid blueprint: expected a blueprint file"):
        import_blueprint(f"{base}/not_a_blueprint.yaml", tmp_path)
    with pytest.raises(ImportFailed, match="HTTP 404"):
        import_blueprint(f"{base}/missing.yaml", tmp_path)
    import_blueprint(f"{base}/motion_light.yaml", tmp_path)
    with pytest.raises(ImportFailed, match="use --force"):
        import_blueprint(f"{base}/motion_light.yaml", tmp_path)
    import_blueprint(f"{base}/motion_light.yaml", tmp_path, force=True)


def test_reimport_shows_the_diff(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    import_blueprint(f"{base}/motion_light.yaml", tmp_path)
    published = root / "motion_light.yaml"
    published.write_text(published.read_text().replace("default: 120", "default: 300"))
    result = reimport("sample_author/motion_light", tmp_path)
    assert "-      default: 120" in result.diff
    assert "+      default: 300" in result.diff
    assert "default: 300" in result.path.read_text()


def test_cli_import_list_and_errors(
    served: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = served
    assert main(["blueprint", "import", f"{base}/motion_light.yaml", "-c", str(tmp_path)]) == 0
    assert main(["blueprint", "list", "-c", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "sample_author/motion_light.yaml\tMotion-activated light" in out
    assert main(["blueprint", "import", str(tmp_path / "nope.yaml"), "-c", str(tmp_path)]) == 1
    assert "no such file" in capsys.readouterr().err


USES_MOTION_LIGHT = """
automation:
  - id: hall
    alias: Hall light
    use_blueprint:
      path: sample_author/motion_light.yaml
      input:
        motion_entity: binary_sensor.hall_motion
        light_target: {entity_id: light.hall}
"""


def test_reimport_refuses_a_version_that_breaks_an_automation_then_force_and_rollback(
    served: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, root = served
    installed = import_blueprint(f"{base}/motion_light.yaml", tmp_path).path
    (tmp_path / "configuration.yaml").write_text(USES_MOTION_LIGHT)
    assert main(["check", "-c", str(tmp_path)]) == 0
    original = installed.read_text()
    published = root / "motion_light.yaml"
    published.write_text(published.read_text().replace("motion_entity", "motion_sensor"))  # renamed upstream
    capsys.readouterr()

    assert main(["blueprint", "reimport", "sample_author/motion_light", "-c", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "configuration.yaml:" in err and "motion_sensor" in err  # the automation's error, with file:line
    assert "+    motion_sensor:" in err  # the diff
    assert "use --force" in err
    assert installed.read_text() == original  # nothing replaced
    assert main(["check", "-c", str(tmp_path)]) == 0

    assert main(["blueprint", "reimport", "sample_author/motion_light", "-c", str(tmp_path), "--force"]) == 0
    assert "motion_sensor" in installed.read_text()
    assert (installed.parent / "motion_light.yaml.previous").read_text() == original
    assert main(["check", "-c", str(tmp_path)]) == 1  # forced: the automation is broken now

    assert main(["blueprint", "rollback", "sample_author/motion_light", "-c", str(tmp_path)]) == 0
    assert installed.read_text() == original
    assert main(["check", "-c", str(tmp_path)]) == 0


def test_reimport_that_breaks_nothing_replaces_and_keeps_the_previous(served: tuple[str, Path], tmp_path: Path) -> None:
    base, root = served
    installed = import_blueprint(f"{base}/motion_light.yaml", tmp_path).path
    (tmp_path / "configuration.yaml").write_text(USES_MOTION_LIGHT)
    original = installed.read_text()
    published = root / "motion_light.yaml"
    published.write_text(published.read_text().replace("default: 120", "default: 300"))
    result = reimport("sample_author/motion_light", tmp_path)
    assert result.replaced and "+      default: 300" in result.diff
    assert (installed.parent / "motion_light.yaml.previous").read_text() == original


def test_rollback_without_a_previous_version_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blueprint", "rollback", "someone/none", "-c", str(tmp_path)]) == 1
    assert "no previous version" in capsys.readouterr().err


def test_list_shows_the_shipped_blueprints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blueprint", "list", "-c", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "orbiteos/peak_shaving.yaml\t" in out
    assert out.splitlines()[0].endswith("\tshipped")
