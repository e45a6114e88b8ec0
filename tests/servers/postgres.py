"""Throwaway PostgreSQL servers for the test session (Debian's postgresql package).

Each server sets `shared_preload_libraries` itself, so the tests do not depend on how the host's
PostgreSQL is configured: the `plain` server preloads nothing (where TimescaleDB is installed,
that is the "installed but not preloaded" case), the `timescaledb` server preloads it.

Fixtures:
- `postgres_kind`: "plain" unless a test module or conftest overrides it (`each_postgres_kind`
  runs a test on both kinds; the TimescaleDB runs are skipped with the reason where it is absent).
- `postgres`: the session's server of that kind (a `TestPostgres`); `.stop()` / `.start()` for outage tests.
- `postgres_server`, `timescale_server`: the two session servers by name.
- `postgres_url`: a fresh, empty database on the server of that kind, as a libpq URL.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orbiteos.integrations.recorder.embedded import (
    TIMESCALEDB,
    EmbeddedPostgresError,
    PostgresCluster,
    find_bindir,
    free_port,
    timescaledb_installed,
)

_database_numbers = itertools.count(1)
_PREFIX = "orbiteos-pg-"
_OWNER = "owner.pid"  # the process whose session this server belongs to
KINDS = ("plain", TIMESCALEDB)
# Background jobs off on the TimescaleDB server: a retention job must not drop a test's rows
# (dated months back) half-way through it. Tests run a job by hand with CALL run_job(id).
_TIMESCALE_SETTINGS = {"timescaledb.max_background_workers": "0"}


class TestPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on a free loopback port."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, kind: str = "plain") -> None:
        _remove_orphans()
        self.kind = kind
        # pytest's tmp_path lives under a 0700 directory the postgres user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix=_PREFIX))
        self.root.chmod(0o755)
        (self.root / _OWNER).write_text(str(os.getpid()))
        self.cluster = PostgresCluster(
            data_dir=self.root / "data", socket_dir=self.root / "socket", port=free_port(), listen="127.0.0.1",
            preload=(TIMESCALEDB,) if kind == TIMESCALEDB else (),
            settings=dict(_TIMESCALE_SETTINGS) if kind == TIMESCALEDB else {},
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


def _session_server(kind: str) -> Iterator[TestPostgres]:
    server = TestPostgres(kind)
    try:
        server.cluster.init()
        server.start()
        yield server
    finally:
        server.destroy()


def timescaledb_missing() -> str | None:
    """Why the TimescaleDB runs are skipped here, or None when it is installed."""
    bindir = find_bindir()
    if timescaledb_installed(bindir):
        return None
    return (f"TimescaleDB is not installed in the PostgreSQL of {bindir.parent} "
            "(docs/recorder.md says how to install it)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TestPostgres]:
    """The plain server: shared_preload_libraries is empty."""
    yield from _session_server("plain")


@pytest.fixture(scope="session")
def timescale_server() -> Iterator[TestPostgres]:
    """The server that preloads TimescaleDB; skips the test where TimescaleDB is not installed."""
    reason = timescaledb_missing()
    if reason is not None:
        pytest.skip(reason)
    yield from _session_server(TIMESCALEDB)


@pytest.fixture
def postgres_kind() -> str:
    return "plain"


def each_postgres_kind(request: pytest.FixtureRequest) -> str:
    """Use as `postgres_kind = pytest.fixture(params=KINDS)(each_postgres_kind)` to run on both servers."""
    return str(request.param)


@pytest.fixture
def postgres(postgres_kind: str, request: pytest.FixtureRequest) -> TestPostgres:
    server: TestPostgres = request.getfixturevalue(
        "timescale_server" if postgres_kind == TIMESCALEDB else "postgres_server"
    )
    if not server.cluster.is_running():
        server.start()  # an outage test that failed half-way must not take others down
    return server


@pytest.fixture
def postgres_url(postgres: TestPostgres) -> str:
    return postgres.create_database()
