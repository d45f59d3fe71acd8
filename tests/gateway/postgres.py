"""A real PostgreSQL server for the tests: initdb in a temporary directory, loopback port, stopped at the end.

PostgreSQL refuses to run as root; as root (CI) the server runs as the `postgres` system user, in a
directory chowned to it. Without the server binaries the tests are skipped locally, but fail on CI
(`CI` set): there, `.ci/run` installs Debian's `postgresql` package (whose own service stays stopped).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.cluster import free_ports

DATABASE = "ocrgate"
SUPERUSER = "postgres"
TABLES = ("ocrgate_truths", "ocrgate_inputs", "ocrgate_pages", "ocrgate_jobs")


def bin_dir() -> Path | None:
    """The directory of initdb and pg_ctl: pg_config's answer, else the newest /usr/lib/postgresql/*/bin."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)]
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


class PostgresServer:
    """One throwaway cluster: `start()`, `url`, `stop()`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="ocrgate-pg-"))  # not under pytest's 0700 root-owned tmp
        self.data = self.root / "data"
        self.port = free_ports(1)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                user = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise RuntimeError("running as root needs the `postgres` system user") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *argv: str) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stdout}{done.stderr}{log[-2000:]}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "30",
                  "-o", options, "start")  # fmt: skip
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def reset(self) -> None:
        """Empty the job tables (between tests), leaving the schema in place."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            present = conn.execute("SELECT to_regclass('ocrgate_jobs') IS NOT NULL").fetchone()[0]
            if present:
                conn.execute(f"TRUNCATE {', '.join(TABLES)}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (skipped without the binaries, except on CI)."""
    bindir = bin_dir()
    if bindir is None or importlib.util.find_spec("psycopg") is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql"
            if bindir is None
            else "psycopg is not installed (pip install -e '.[postgres]')"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (required on CI)")
        pytest.skip(reason)
    server = PostgresServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The test database's URL, its job tables emptied."""
    postgres_server.reset()
    return postgres_server.url
