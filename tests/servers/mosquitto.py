"""A real Eclipse Mosquitto broker on a free loopback port, for tests and benchmarks.

`mosquitto -p PORT` with no config file listens on loopback only. The `mosquitto` fixture starts
one per test; `broker.restart()` stops it and starts it again on the same port (restart tests).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

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

    def __init__(self, port: int | None = None, executable: str | None = None) -> None:
        found = executable or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not shutil.which(found):
            raise RuntimeError("mosquitto not found: run scripts/setup (Debian package 'mosquitto')")
        self.executable = found
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, keep_port: bool = False) -> None:
        if self.running:
            return
        for attempt in range(5):
            self._process = subprocess.Popen(
                [self.executable, "-p", str(self.port)],
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
        self.stop()


@pytest.fixture
def mosquitto() -> Iterator[MosquittoBroker]:
    """A running broker on a free loopback port, stopped after the test."""
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
