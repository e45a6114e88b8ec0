"""deploy/orbiteos.service: the options the docs promise, checked by systemd itself where it is installed."""

from __future__ import annotations

import configparser
import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orbiteos.cli import build_parser
from orbiteos.runtime import STOP_TIMEOUT

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "orbiteos.service"
INSTALLED = "/opt/orbiteos/.venv/bin/orbiteos"
# systemd-analyze security's 0-10 exposure scale: below 2 is its "OK" band.
MAX_EXPOSURE = 2.0


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, f"unexpected time span {value!r}"
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_the_unit_runs_as_its_own_user_on_a_read_only_system_and_restarts_on_failure() -> None:
    service = _service()
    assert service["User"] == service["Group"] == "orbiteos"
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "yes"
    assert service["NoNewPrivileges"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert service["StateDirectory"] == "orbiteos"
    assert service["Restart"] == "on-failure"


def test_the_stop_timeout_leaves_the_engine_its_own_stop_timeout() -> None:
    service = _service()
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert _seconds(service["TimeoutStopSec"]) > STOP_TIMEOUT


def test_the_command_lines_are_ones_orbiteos_accepts() -> None:
    service = _service()
    run = shlex.split(service["ExecStart"])
    check = shlex.split(service["ExecStartPre"])
    assert run[0] == check[0] == INSTALLED
    run_args = build_parser().parse_args(run[1:])
    assert (run_args.command, run_args.config_dir, run_args.storage_dir) == (
        "run", Path("/etc/orbiteos"), Path("/var/lib/orbiteos")
    )  # fmt: skip
    assert build_parser().parse_args(check[1:]).command == "check"


def _installed_here(tmp_path: Path) -> Path:
    """The unit with its command pointing at this checkout's orbiteos (systemd checks it exists)."""
    orbiteos = Path(sys.executable).with_name("orbiteos")
    if not orbiteos.exists():
        pytest.skip(f"no orbiteos command next to {sys.executable}")
    unit = tmp_path / "orbiteos.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(orbiteos)), encoding="utf-8")
    return unit


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


def test_systemd_analyze_verify_finds_nothing_wrong(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    unit = _installed_here(tmp_path)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    unit = _installed_here(tmp_path)
    result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for orbiteos\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) < MAX_EXPOSURE, result.stdout


def test_logrotate_accepts_the_rotation_of_the_embedded_server_log(tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or ("/usr/sbin/logrotate" if Path("/usr/sbin/logrotate").exists() else None)
    if logrotate is None:
        pytest.skip("logrotate is not installed (Debian package logrotate)")
    log = tmp_path / "server.log"
    log.write_text("LOG:  database system is ready to accept connections\n")
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    text = (REPO / "deploy" / "orbiteos.logrotate").read_text(encoding="utf-8")
    assert "/var/lib/orbiteos/postgres/server.log {" in text and "su orbiteos orbiteos" in text
    config = tmp_path / "orbiteos.logrotate"
    config.write_text(
        text.replace("/var/lib/orbiteos/postgres/server.log", str(log)).replace("orbiteos orbiteos", f"{user} {group}")
    )
    result = subprocess.run([logrotate, "-d", "-s", str(tmp_path / "state"), str(config)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "error" not in output.lower(), output
    assert f"considering log {log}" in output
