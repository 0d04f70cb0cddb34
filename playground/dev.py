"""`make run`: the whole playground for development in one command, and Ctrl-C stops all of it.

Starts the embedded PostgreSQL (unless DATABASE_URL is set), migrates, makes a local account on first start,
then serves the ASGI app with uvicorn (reloading on code changes) beside one job worker. Ctrl-C, SIGTERM or
either process ending stops the other, then the embedded database.

    python -m playground.dev          # what `make run` does; PORT=8001 for another port
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    # Ctrl-C stops a running generation quickly here (it ends interrupted), not after the production grace.
    os.environ.setdefault("WORKER_SHUTDOWN_TIMEOUT_S", "5")
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)

    database = _embedded_database()
    children: list[subprocess.Popen] = []
    try:
        if database:
            database.ensure_running()
        for command in (["migrate", "--no-input"], ["ensure_local_account"]):
            if stop_requested or _manage(*command).wait() != 0:
                return 1
        port = os.environ.get("PORT", "8000")
        children = [
            _spawn(
                sys.executable,
                "-m",
                "uvicorn",
                "playground.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--reload",
                "--reload-dir",
                str(ROOT),
                "--timeout-graceful-shutdown",
                "3",
            ),
            _manage("worker"),
        ]
        print(
            f"Z-Image Playground on http://127.0.0.1:{port} (Ctrl-C stops the server, the worker and the database)"
        )
        while not stop_requested and all(child.poll() is None for child in children):
            time.sleep(0.2)
        return 0
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _stop(children)
        if database:
            database.stop()


def _embedded_database():
    if os.environ.get("DATABASE_URL"):
        return None
    from playground.embedded_postgres import EmbeddedPostgres

    return EmbeddedPostgres(Path(os.environ.get("VAR_DIR", ROOT / "var")) / "pgdata")


def _manage(*args: str) -> subprocess.Popen:
    return _spawn(sys.executable, "manage.py", *args)


def _spawn(*command: str) -> subprocess.Popen:
    # A process group of its own: the terminal's Ctrl-C reaches this process only, which stops each child once.
    return subprocess.Popen(
        command, cwd=ROOT, process_group=0, preexec_fn=_die_with_parent if sys.platform == "linux" else None
    )


def _die_with_parent() -> None:
    """The child gets SIGTERM should this process die first, even killed with SIGKILL (Linux's PDEATHSIG)."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


if __name__ == "__main__":
    sys.exit(main())
