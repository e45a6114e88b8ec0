"""`orbiteos check` renders trigger templates under the render budget: a runaway one is a file:line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

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
    result = subprocess.run(
        [sys.executable, "-m", "orbiteos.cli", "check", "-c", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("configuration.yaml:9: value_template: template ")
    assert "exceeded its render time budget of 0.2 s" in first
    assert "configuration invalid: 1 error(s)" in result.stdout
    assert "Traceback" not in result.stderr
