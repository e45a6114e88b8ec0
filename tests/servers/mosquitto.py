"""A real Eclipse Mosquitto broker on a free loopback port, for tests and benchmarks.

`mosquitto -p PORT` with no config file listens on loopback only. The `mosquitto` fixture starts
one per test; `broker.restart()` stops it and starts it again on the same port (restart tests).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class MosquittoBroker:
    """One mosquitto process; `start()`, `stop()`, `restart()` keep the same port."""

    def __init__(
        self, port: int | None = None, executable: str | None = None, config_lines: list[str] | None = None
    ) -> None:
        """`config_lines` (e.g. TLS settings) go into a config file for the loopback listener."""
        found = executable or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not shutil.which(found):
            raise RuntimeError("mosquitto not found: run scripts/setup (Debian package 'mosquitto')")
        self.executable = found
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.config_lines = config_lines
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        if self.config_lines is None:
            return [self.executable, "-p", str(self.port)]
        if self._config_dir is None:
            self._config_dir = tempfile.TemporaryDirectory(prefix="mosquitto-")
        config = Path(self._config_dir.name) / "mosquitto.conf"
        # `user root`: when started as root, do not drop to the mosquitto user (it could not read
        # certificates in a private temporary directory); ignored when not root.
        lines = [f"listener {self.port} {self.host}", "allow_anonymous true", "user root", *self.config_lines]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [self.executable, "-c", str(config)]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, keep_port: bool = False) -> None:
        if self.running:
            return
        for attempt in range(5):
            self._process = subprocess.Popen(
                self._command(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                if _accepts(self.port):
                    return
                time.sleep(0.02)
            error = self._stop_process()
            # The port may have been taken between probing and binding: try another one,
            # unless this is a restart that must keep its port (then wait and retry).
            if attempt < 4:
                if keep_port:
                    time.sleep(0.2)
                else:
                    self.port = free_port()
                continue
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {error}")

    def stop(self) -> None:
        self._stop_process()

    def cleanup(self) -> None:
        self.stop()
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def restart(self) -> None:
        self.stop()
        self.start(keep_port=True)

    def _stop_process(self) -> str:
        process, self._process = self._process, None
        if process is None:
            return ""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        return stderr.strip()[-500:]

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass(frozen=True)
class TlsMaterial:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""

    ca_cert: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


def make_tls_material(directory: Path) -> TlsMaterial:
    """Create the files with the openssl command (EC keys, valid one day)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=orbiteos-test-ca")
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    signed: list[tuple[str, str, tuple[str, ...]]] = [
        ("server", "/CN=localhost", ("-extfile", "server.ext")),
        ("client", "/CN=orbiteos", ()),
    ]
    for name, subject, extra in signed:
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "1", *extra)
    files = ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
    return TlsMaterial(*(str(directory / f) for f in files))


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A running broker on a free loopback port, stopped after the test."""
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.cleanup()


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, TlsMaterial]]:
    """A broker that speaks only TLS and requires a client certificate signed by its test CA."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl not found: it makes the test certificates (Debian package 'openssl')")
    material = make_tls_material(tmp_path)
    broker = MosquittoBroker(
        config_lines=[
            f"cafile {material.ca_cert}",
            f"certfile {material.server_cert}",
            f"keyfile {material.server_key}",
            "require_certificate true",
        ]
    )
    broker.start()
    try:
        yield broker, material
    finally:
        broker.cleanup()
