"""A PostgreSQL server under var/ for development and tests, used only when DATABASE_URL is unset.

It runs the PostgreSQL binaries that the pgserver package bundles, but keeps the server's life in its own hands,
so that an interrupted command (Ctrl-C at any moment, a killed process) never leaves a state it cannot start from:

- the data folder is made under a temporary name and renamed into place once complete, so a half-made one is
  never mistaken for a real one;
- the server is judged running by its postmaster.pid naming a live postgres with its socket in place; a stale
  file is removed and the server started afresh;
- the server runs in its own session, so a Ctrl-C in the terminal reaches the commands, not the database;
  whoever started it stops it (`make run` on exit, the test run at its end, `make db-stop` by hand);
- a lock file serialises concurrent starts (`make run` and `make test` side by side).

pgserver's own bookkeeping (a JSON list of client pids, rewritten in place) is not used: a process stopped while
writing it left an empty file that broke every later command.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

DATABASE_NAME = "playground"
SUPERUSER = "postgres"
_SOCKET_NAME = ".s.PGSQL.5432"
# Unix socket paths are limited to about 107 bytes; deep folders (pytest's) put the socket under /tmp instead.
_MAX_SOCKET_PATH = 100
# PostgreSQL refuses to run as root; as root the server runs as this system user (as pgserver does).
_SYSTEM_USER = "pgserver"


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    data_dir: Path

    def __post_init__(self) -> None:
        # PostgreSQL and libpq take a socket folder only as an absolute path.
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())

    @property
    def socket_dir(self) -> Path:
        if len(str(self.data_dir / _SOCKET_NAME)) <= _MAX_SOCKET_PATH:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"zimage-pg-{digest}"

    def database_settings(self) -> dict:
        """Django settings for this server's database. Nothing starts until the first connection."""
        return {
            "ENGINE": "playground.embedded_postgres",
            "NAME": DATABASE_NAME,
            "USER": SUPERUSER,
            "HOST": str(self.socket_dir),
            "PORT": "5432",
            "DATA_DIR": str(self.data_dir),
        }

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _is_postgres(pid) and (self.socket_dir / _SOCKET_NAME).exists()

    def ensure_running(self) -> bool:
        """Make the data folder if there is none, start the server unless it runs, and create the database.

        Returns whether this call started the server.
        """
        with self._lock():
            if not (self.data_dir / "PG_VERSION").exists():
                self._initialise()
            started = False
            if not self.is_running():
                self._start()
                started = True
            self._create_database()
        return started

    def stop(self) -> None:
        """Stop the server (fast: open connections are closed) if it runs."""
        with self._lock():
            if self.is_running():
                if _as_root():  # a test run started meanwhile makes /tmp/pytest-of-root private again
                    _pgserver().utils.ensure_prefix_permissions(self.data_dir)
                self._pg_ctl("stop", "-m", "fast", "-w")

    def _initialise(self) -> None:
        # Half-made folders of earlier attempts (an initdb of a killed process may still be writing one).
        for leftover in self.data_dir.parent.glob(f"{self.data_dir.name}.initialising-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)  # it has no PG_VERSION: never a real one
        fresh = self.data_dir.with_name(f"{self.data_dir.name}.initialising-{os.getpid()}")
        fresh.mkdir(parents=True)
        self._hand_to_system_user(fresh)
        self._run(
            "initdb",
            "-D",
            str(fresh),
            "--auth=trust",
            "--encoding=utf8",
            "-U",
            SUPERUSER,
            "--no-instructions",
        )
        fresh.rename(self.data_dir)
        logger.info("initialised an embedded PostgreSQL in %s", self.data_dir)

    def _start(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            (self.data_dir / "postmaster.pid").unlink()  # stale: it names no running postgres
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._hand_to_system_user(self.socket_dir)
        self._pg_ctl(
            "start", "-w", "-t", "30", "-l", str(self.data_dir / "log"), "-o", f'-h "" -k {self.socket_dir}'
        )
        logger.info("started the embedded PostgreSQL in %s", self.data_dir)

    def _create_database(self) -> None:
        with psycopg.connect(
            dbname="postgres", user=SUPERUSER, host=str(self.socket_dir), autocommit=True
        ) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
                admin.execute(f"CREATE DATABASE {DATABASE_NAME}")

    def _postmaster_pid(self) -> int | None:
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().partition("\n")[0]
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return int(first_line) if first_line.strip().isdigit() else None

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, program: str, *args: str) -> None:
        if _as_root() and self.data_dir.exists():
            # Again before each command: a test run starting meanwhile closes its temporary folders to others
            # (pytest's chmod 700 of /tmp/pytest-of-<user>), and pg_ctl, run as the system user, must pass them.
            _pgserver().utils.ensure_prefix_permissions(self.data_dir)
        completed = subprocess.run(
            [str(_pgserver()._commands.POSTGRES_BIN_PATH / program), *args],
            user=_SYSTEM_USER if _as_root() else None,
            # Its own session: a Ctrl-C meant for `make run` must not reach the database server.
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            log = self.data_dir / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{completed.stderr}{tail}")

    def _hand_to_system_user(self, folder: Path) -> None:
        if not _as_root():
            return
        pgserver = _pgserver()
        entry = pgserver.utils.ensure_user_exists(_SYSTEM_USER)
        pgserver.utils.ensure_prefix_permissions(folder)
        pgserver.utils.ensure_prefix_permissions(pgserver._commands.POSTGRES_BIN_PATH)
        os.chown(folder, entry.pw_uid, entry.pw_gid)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.parent / f".{self.data_dir.name}.lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield


def _pgserver():
    """The pgserver package (a development dependency): its binaries and its helpers for running as root."""
    with warnings.catch_warnings(action="ignore"):  # platformdirs warns about XDG_RUNTIME_DIR on import
        import pgserver._commands
        import pgserver.utils
    return pgserver


def _as_root() -> bool:
    return os.geteuid() == 0


def _is_postgres(pid: int) -> bool:
    import psutil  # pgserver's dependency, like the binaries

    try:
        return psutil.Process(pid).name() == "postgres"
    except psutil.Error:
        return False
