"""`orbiteos check` and `orbiteos run`, driven as a user would: as subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orbiteos.cli import main as cli_main
from orbiteos.cli.check import format_warning
from orbiteos.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
ORBITEOS = [sys.executable, "-m", "orbiteos.cli"]


def orbiteos(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ORBITEOS, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False)


def test_check_passes_on_the_example_configuration() -> None:
    result = orbiteos("check", "-c", str(REPO / "config.example"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration valid: 0 error(s)" in result.stdout


def test_check_lists_every_error_with_file_and_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "orbiteos:\n  name: Broken\n  time_zone: Nowhere/Land\n\nautomaton:\n  - alias: x\nlogger:\n  default: chatty\n"
    )
    result = orbiteos("check", "-c", str(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("configuration.yaml:3: orbiteos.time_zone: expected an IANA time zone")
    assert lines[1] == "configuration.yaml:5: unknown top-level key 'automaton'; did you mean 'automation'?"
    assert lines[2].startswith("configuration.yaml:8: logger.default: expected a log level")
    assert "configuration invalid: 3 error(s)" in lines[3]
    assert "Traceback" not in result.stderr


def test_check_reports_malformed_yaml_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: [unclosed\nlogger: {}\n")
    result = orbiteos("check", "-c", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.startswith("configuration.yaml:3: invalid YAML: ")
    assert "Traceback" not in result.stderr


def test_check_prints_warnings_but_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: A\n  currency: EUR\n")
    assert cli_main(["check", "-c", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "configuration.yaml:3: warning: orbiteos.currency: not used by OrbitEOS, ignored" in out


def test_warning_format_without_a_position() -> None:
    assert format_warning(ConfigError("x")) == "warning: x"
    assert format_warning(ConfigError("x", "a.yaml")) == "a.yaml: warning: x"


def test_run_refuses_to_start_on_errors(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  latitude: north\n")
    result = orbiteos("run", "-c", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("configuration.yaml:2: orbiteos.latitude: ")
    assert "not starting" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_run_starts_and_stops_cleanly_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    (tmp_path / "configuration.yaml").write_text("orbiteos:\n  name: Tiny\nlogger:\n  default: info\n")
    process = await asyncio.create_subprocess_exec(
        *ORBITEOS,
        "run",
        "-c",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            while b"site 'Tiny' started" not in (line := await process.stderr.readline()):
                assert line, "orbiteos run exited before it started"
            process.send_signal(signum)
            rest = (await process.stderr.read()).decode()
            returncode = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert returncode == 0, rest
    assert f"received {signum.name}, stopping" in rest
    assert "site 'Tiny' stopped" in rest
    assert "Traceback" not in rest
