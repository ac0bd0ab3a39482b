"""Storage that a test may break: a throwaway PostgreSQL cluster and a small tmpfs.

The machine's PostgreSQL serves every other test, so outages get their own cluster
(initdb in a temporary directory, its own port), stopped and started with pg_ctl. SQLite's
full disk is a real tmpfs of a few MiB, filled with a file and freed by deleting it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from defib.testing import free_port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _unavailable(why: str) -> None:
    if os.environ.get("DEFIB_TEST_REQUIRE_PG") == "1":
        pytest.fail(why)
    pytest.skip(why)


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster of our own: `stop()` is a real outage, `start()` ends it."""

    directory: Path
    port: int
    bindir: Path
    user: str

    @classmethod
    def create(cls) -> ThrowawayPostgres:
        bindir = _pg_bin()
        if bindir is None:
            _unavailable("PostgreSQL binaries not installed")
            raise AssertionError  # unreachable
        # PostgreSQL refuses to run as root; the packaged cluster's `postgres` user will do.
        user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        # Not under pytest's tmp dir: its root is private to us, the server could not enter.
        directory = Path(tempfile.mkdtemp(prefix="defib-outage-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, user)
        pg = cls(directory, free_port(), bindir, user)
        pg._run(
            "initdb",
            "-D",
            str(directory / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        pg.start()
        return pg

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Fast shutdown: sessions are cut, as when an operator stops the server."""
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def database(self, name: str) -> str:
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class SmallDisk:
    """A real tmpfs of `size_mib`: `fill()` leaves no free space, `free()` gives it back."""

    mountpoint: Path
    filler: Path

    @classmethod
    def mount(cls, parent: Path, size_mib: int = 16) -> SmallDisk:
        mountpoint = parent / "disk"
        mountpoint.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(mountpoint)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.strip()}")
        return cls(mountpoint, mountpoint / "filler")

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 512):  # down to the last bytes
                chunk = b"\0" * size
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        for _ in range(20):
            if (
                subprocess.run(["umount", str(self.mountpoint)], capture_output=True).returncode
                == 0
            ):
                return
            time.sleep(0.2)
        subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
