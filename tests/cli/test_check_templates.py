"""`orbiteos check` renders trigger templates under the render budget: a runaway one is a file:line error."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_run_check import orbiteos

CONFIG = """\
orbiteos:
  name: Budget
  limits:
    template_render_seconds: 0.2
automation:
  - alias: runaway
    trigger:
      - platform: template
        value_template: "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    action: []
  - alias: fine
    trigger:
      - platform: template
        value_template: "{{ states('sensor.x') | float(0) > 1 }}"
    action: []
"""


def test_check_reports_a_trigger_template_past_the_render_budget(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(CONFIG)
    result = orbiteos("check", "-c", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("configuration.yaml:9: value_template: template ")
    assert "exceeded its render time budget of 0.2 s" in first
    assert "configuration invalid: 1 error(s)" in result.stdout
    assert "Traceback" not in result.stderr
