"""A PostgreSQL server of our own, from Debian's `postgresql` package, in a data directory we own.

Used by the recorder when no `db_url` is configured, by the test fixture and by the benchmark.
As root, every server command runs as the `postgres` user (PostgreSQL refuses to run as root),
and the data directory is owned by that user.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

_LOGGER = logging.getLogger(__name__)

SERVER_USER = "postgres"
DATABASE = "orbiteos"
TIMESCALEDB = "timescaledb"
# How a user gets TimescaleDB for Debian's PostgreSQL (Timescale's own apt repository).
TIMESCALEDB_INSTALL = (
    "install Timescale's package (timescaledb-2-postgresql-<version> from packagecloud.io/timescale/timescaledb, "
    "see docs/recorder.md)"
)
# A unix socket path may hold about 107 bytes; leave room for "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR = 90


class EmbeddedPostgresError(Exception):
    """The embedded PostgreSQL server could not be found, created or started."""


def find_bindir() -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin` holding initdb, or initdb's directory on PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise EmbeddedPostgresError(
        "embedded PostgreSQL: no initdb found in /usr/lib/postgresql/*/bin or on PATH; "
        "install Debian's postgresql package (scripts/setup does) or set recorder.db_url"
    )


def _extension_dirs(bindir: Path) -> tuple[Path, Path]:
    """Where this installation keeps its loadable libraries and its extension control files."""
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        result = subprocess.run([str(pg_config), "--pkglibdir", "--sharedir"], capture_output=True, text=True,
                                timeout=30, check=False)
        lines = result.stdout.split()
        if result.returncode == 0 and len(lines) == 2:
            return Path(lines[0]), Path(lines[1]) / "extension"
    version = bindir.parent.name  # Debian: /usr/lib/postgresql/<version>/bin
    return bindir.parent / "lib", Path("/usr/share/postgresql") / version / "extension"


def timescaledb_installed(bindir: Path | None = None) -> bool:
    """Whether the PostgreSQL in `bindir` (default: find_bindir()) has TimescaleDB's library and extension."""
    libdir, extdir = _extension_dirs(bindir or find_bindir())
    return (libdir / f"{TIMESCALEDB}.so").exists() and (extdir / f"{TIMESCALEDB}.control").exists()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """One PostgreSQL cluster: `init()` once, then `start()` / `stop()` as often as needed.

    `port` is always set (it names the unix socket); `listen` is the TCP address to listen on,
    or None for the unix socket only.
    """

    data_dir: Path
    socket_dir: Path
    port: int = 5432
    listen: str | None = None
    bindir: Path = Path()  # found by find_bindir() when not given
    preload: tuple[str, ...] = ()  # shared_preload_libraries, always set explicitly
    settings: dict[str, str] = field(default_factory=dict)  # more `-c name=value` server settings

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        self.socket_dir = Path(self.socket_dir).absolute()
        if len(str(self.socket_dir)) > _MAX_SOCKET_DIR:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: socket directory {self.socket_dir} is longer than "
                f"{_MAX_SOCKET_DIR} characters (a unix socket path limit)"
            )
        self.bindir = self.bindir if self.bindir != Path() else find_bindir()
        self._as_server_user = os.geteuid() == 0

    # --- paths and urls ---------------------------------------------------
    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq URL: over TCP when listening on it, else over the unix socket."""
        if self.listen:
            return f"postgresql://{SERVER_USER}@{self.listen}:{self.port}/{database}"
        return f"postgresql://{SERVER_USER}@/{database}?host={quote(str(self.socket_dir))}&port={self.port}"

    # --- commands ---------------------------------------------------------
    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / args[0]), *args[1:]]
        if self._as_server_user:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: {args[0]} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )
        return result

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._as_server_user:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)
            _check_reachable(path)

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster (trust authentication, loopback or socket only) unless it exists."""
        self._own(self.socket_dir)
        if self.initialised:
            return
        self._own(self.data_dir)
        os.chmod(self.data_dir, 0o700)
        self._run("initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--no-sync")
        _LOGGER.info("created PostgreSQL cluster in %s", self.data_dir)

    def _options(self) -> str:
        listen = self.listen or ""
        settings = {"shared_preload_libraries": ",".join(self.preload), **self.settings}
        if TIMESCALEDB in self.preload:
            settings.setdefault("timescaledb.telemetry_level", "off")  # no reports to Timescale from here
        extra = "".join(f" -c {name}='{value}'" for name, value in settings.items())
        return (
            f"-c port={self.port} -c listen_addresses='{listen}' "
            f"-c unix_socket_directories='{self.socket_dir}' -c max_connections=50{extra}"
        )

    def is_running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                  "-o", self._options())

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `fast` rolls back open transactions, `immediate` is a crash."""
        if self.is_running():
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60")

    def create_database(self, name: str) -> None:
        """Create a database unless it exists (through psql, so that no driver is needed)."""
        found = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if found.strip() != "1":
            self._psql("postgres", f'CREATE DATABASE "{name}"')

    def _psql(self, database: str, sql: str) -> str:
        return self._run("psql", "-X", "-q", "-A", "-t", "-h", str(self.socket_dir), "-p", str(self.port),
                         "-U", SERVER_USER, "-d", database, "-c", sql).stdout


def _check_reachable(path: Path) -> None:
    """The server user must be able to walk down to `path`: say which directory stops it."""
    entry = pwd.getpwnam(SERVER_USER)
    for parent in reversed(path.absolute().parents):
        if not parent.exists():
            return
        info = parent.stat()
        if info.st_uid == entry.pw_uid:
            continue
        others_x = info.st_mode & stat.S_IXOTH
        group_x = info.st_gid == entry.pw_gid and info.st_mode & stat.S_IXGRP
        if not (others_x or group_x):
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL: user {SERVER_USER} cannot enter {parent} (mode "
                f"{stat.filemode(info.st_mode)}); choose a config directory it can reach or set recorder.db_url"
            )


def preload_for(timescaledb: str, bindir: Path) -> tuple[str, ...]:
    """shared_preload_libraries for the recorder option `timescaledb: auto | on | off`."""
    if timescaledb == "off":
        return ()
    if timescaledb_installed(bindir):
        return (TIMESCALEDB,)
    if timescaledb == "on":
        raise EmbeddedPostgresError(
            f"embedded PostgreSQL: recorder.timescaledb is 'on' but the PostgreSQL in {bindir.parent} has no "
            f"TimescaleDB; {TIMESCALEDB_INSTALL}, or set recorder.timescaledb to 'auto'"
        )
    return ()


class EmbeddedServer:
    """The recorder's own server under `<config_dir>/.storage/postgres`, on a unix socket only.

    `timescaledb`: `auto` preloads TimescaleDB when the installed PostgreSQL has it, `on` requires
    it, `off` never loads it.
    """

    def __init__(self, storage_dir: Path, timescaledb: str = "auto") -> None:
        data_dir = Path(storage_dir).absolute() / "postgres"
        socket_dir = data_dir.parent / "postgres-socket"
        if len(str(socket_dir)) > _MAX_SOCKET_DIR:
            socket_dir = Path("/tmp") / f"orbiteos-pg-{abs(hash(str(data_dir))) % 10**10}"
        bindir = find_bindir()
        self.cluster = PostgresCluster(data_dir=data_dir, socket_dir=socket_dir, port=5432, bindir=bindir,
                                       preload=preload_for(timescaledb, bindir))
        if os.geteuid() == 0:
            _check_reachable(data_dir)  # fail at set-up, not on every reconnect
        self._started_here = False

    @property
    def dsn(self) -> str:
        return self.cluster.dsn(DATABASE)

    def ensure_running(self) -> str:
        """Create and start the server when needed, create the database; return its URL."""
        cluster = self.cluster
        cluster.init()
        if cluster.is_running():
            # Left running by a process that did not stop cleanly: the directory is ours, so adopt it.
            _LOGGER.info("embedded PostgreSQL in %s is already running; using it", cluster.data_dir)
        else:
            _LOGGER.info("starting embedded PostgreSQL in %s (shared_preload_libraries: %s)",
                         cluster.data_dir, ",".join(cluster.preload) or "none")
            cluster.start()
        self._started_here = True
        cluster.create_database(DATABASE)
        return self.dsn

    async def async_ensure_running(self) -> str:
        return await asyncio.to_thread(self.ensure_running)

    async def async_stop(self) -> None:
        """Stop the server if this process started or adopted it."""
        if self._started_here:
            await asyncio.to_thread(self.cluster.stop)
            self._started_here = False
            _LOGGER.info("stopped embedded PostgreSQL in %s", self.cluster.data_dir)
