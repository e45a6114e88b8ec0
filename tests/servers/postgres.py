"""A throwaway PostgreSQL server for the test session (Debian's postgresql package).

Fixtures:
- `postgres_server`: the session's server (a `TestPostgres`); `.stop()` / `.start()` for outage tests.
- `postgres_url`: a fresh, empty database on it for one test, as a libpq URL.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.integrations.recorder.embedded import EmbeddedPostgresError, PostgresCluster, free_port

_database_numbers = itertools.count(1)
_PREFIX = "orbiteos-pg-"
_OWNER = "owner.pid"  # the process whose session this server belongs to


class TestPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on a free loopback port."""

    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        _remove_orphans()
        # pytest's tmp_path lives under a 0700 directory the postgres user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix=_PREFIX))
        self.root.chmod(0o755)
        (self.root / _OWNER).write_text(str(os.getpid()))
        self.cluster = PostgresCluster(
            data_dir=self.root / "data", socket_dir=self.root / "socket", port=free_port(), listen="127.0.0.1"
        )

    def url(self, database: str = "postgres") -> str:
        return self.cluster.dsn(database)

    def start(self) -> None:
        for attempt in range(3):
            try:
                self.cluster.start()
                return
            except EmbeddedPostgresError:
                if attempt == 2:
                    raise
                self.cluster.port = free_port()  # someone took the port in between

    def stop(self, mode: str = "fast") -> None:
        self.cluster.stop(mode)

    def create_database(self) -> str:
        name = f"test_{next(_database_numbers)}"
        self.cluster.create_database(name)
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.cluster.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _remove_orphans() -> None:
    """Stop and delete servers of earlier sessions whose process is gone (killed before teardown)."""
    for owner_file in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*/{_OWNER}"):
        try:
            owner = int(owner_file.read_text())
            os.kill(owner, 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue
        root = owner_file.parent
        try:
            PostgresCluster(data_dir=root / "data", socket_dir=root / "socket").stop("immediate")
        except EmbeddedPostgresError:
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TestPostgres]:
    server = TestPostgres()
    try:
        server.cluster.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres_url(postgres_server: TestPostgres) -> str:
    if not postgres_server.cluster.is_running():
        postgres_server.start()  # an outage test that failed half-way must not take others down
    return postgres_server.create_database()
