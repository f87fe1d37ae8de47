"""A private PostgreSQL cluster that a test may stop and start: database outages.

The cluster is made with the server's own tools (`initdb`, `pg_ctl`, found under
/usr/lib/postgresql/*/bin or on PATH) in a temporary folder, listens on a free
port on 127.0.0.1 only, trusts local connections, and is removed afterwards.
Run as root, the tools run as the `postgres` user (initdb refuses root).

    def test_outage(pg_cluster: PgCluster) -> None:
        url = pg_cluster.create_database("feedsvc")   # a SQLAlchemy URL
        ...
        pg_cluster.stop()                              # pg_ctl stop -m fast
        pg_cluster.start()

The `pg_cluster` fixture skips, saying why, where the server binaries are missing
or cannot be run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every pg_ctl and initdb call is bounded: a stuck server fails the test, never hangs it.
COMMAND_TIMEOUT = 120
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
# A throwaway cluster: durability is not wanted, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class ClusterUnavailable(Exception):
    """The server binaries are missing or cannot be run here; the message says why."""


def find_bindir() -> Path:
    """The newest installed PostgreSQL server's bin folder."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise ClusterUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgCluster:
    """One cluster in its own folder: `start()`, `stop()`, `url()`, `remove()`."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port
        self._user: list[str] = []

    @classmethod
    def create(cls, bindir: Path | None = None) -> PgCluster:
        """initdb a new cluster in a temporary folder (not yet started)."""
        bindir = bindir or find_bindir()
        root = Path(tempfile.mkdtemp(prefix="feedsvc-pgcluster-"))
        cluster = cls(bindir, root, free_port())
        try:
            cluster._run_as_postgres_if_root()
            cluster._run(str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres",
                         "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        except BaseException:
            cluster.remove()
            raise
        with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(SERVER_SETTINGS.format(port=cluster.port))
        return cluster

    def _run_as_postgres_if_root(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise ClusterUnavailable(
                "running as root, and no postgres user to run initdb as"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ClusterUnavailable("running as root, and no runuser to run initdb as postgres")
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self._user = [runuser, "-u", "postgres", "--"]

    def _run(self, *command: str) -> str:
        try:
            done = subprocess.run([*self._user, *command], capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT, cwd=self.root)  # fmt: skip
        except FileNotFoundError as exc:
            raise ClusterUnavailable(f"cannot run {command[0]}: {exc}") from None
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            output = done.stderr + done.stdout
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}\n{log}")
        return done.stdout

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w",
                  "-t", str(COMMAND_TIMEOUT - 10), *args)  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl("-l", str(self.log), "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session (an outage), `immediate` crashes it."""
        self._pg_ctl("-m", mode, "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for a database of this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:  # fmt: skip
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def remove(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        if self.running:
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A running private cluster, removed after the test; skips if there is none to have."""
    try:
        cluster = PgCluster.create()
    except ClusterUnavailable as exc:
        pytest.skip(str(exc))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
