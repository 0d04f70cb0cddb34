"""`make run`: the whole playground for development in one command, and Ctrl-C stops all of it.

Checks that the port is free, starts the embedded PostgreSQL (unless DATABASE_URL is set), migrates, makes a local
account on first start, then serves the ASGI app with uvicorn beside one job worker and, once the server answers,
prints where to find it. Ctrl-C, SIGTERM or either process ending stops the other, then the embedded database.

    python -m playground.dev     # what `make run` does
    PORT=8001                    # another port
    HOST=0.0.0.0                 # reachable by teammates (default 127.0.0.1: this machine only)
    RELOAD=false                 # no restart on code changes (the watcher is watchfiles, over the project's folders)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.conf import LazySettings

    from playground.embedded_postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
EVERY_INTERFACE = {"0.0.0.0", "::"}  # noqa: S104 (only when a person asks for it with HOST)
# Folders whose changes the server reloads for (with Python and templates): the project's own, never .venv or var/.
NOT_SERVED_FOLDERS = {"tests", "benchmarks"}
# `manage.py worker` says this once it runs (as procrastinate's own worker command does); the ready message covers it.
WORKER_STARTED = "Launching a worker on "
_APPLIED_MIGRATION = re.compile(r"^\s+Applying \S+\.\.\. OK", re.MULTILINE)


class LaunchError(Exception):
    """Something the person who typed `make run` must fix before it can start; the message says what."""


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    # Ctrl-C stops a running generation quickly here (it ends interrupted), not after the production grace.
    os.environ.setdefault("WORKER_SHUTDOWN_TIMEOUT_S", "5")
    host = os.environ.get("HOST", "") or "127.0.0.1"
    try:
        port = _port_to_listen_on(host, os.environ.get("PORT", "") or "8000")
        if host not in LOOPBACK_HOSTS:
            os.environ.setdefault("ALLOWED_HOSTS", ",".join(_names_of_this_machine(host)))
        # The settings are read only now (ALLOWED_HOSTS may have been set just above), before anything starts.
        from django.conf import settings

        from playground.settings import envbool

        reload = envbool("RELOAD", True)
    except (LaunchError, ImproperlyConfigured) as err:
        print(err, file=sys.stderr)
        return 1

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)

    database = _embedded_database()
    children: list[subprocess.Popen] = []
    account: subprocess.Popen | None = None
    announced = False
    try:
        print("Preparing the database…", flush=True)
        if database:
            database.ensure_running()
        if stop_requested:  # a Ctrl-C during start-up: no migration started (it would run to its end first)
            return 1
        migrate = _output_of(_manage_quietly("migrate", "--no-input"))
        if stop_requested or migrate is None:
            return 1
        applied = len(_APPLIED_MIGRATION.findall(migrate))
        print(f"Database ready ({applied} migrations applied)" if applied else "Database ready", flush=True)
        # Made while the server and the worker start; its password is shown with the address.
        account = _manage_quietly("ensure_local_account")
        worker_started = threading.Event()
        children = [_spawn(*_server_command(host, port, reload=reload)), _start_worker(worker_started)]
        while not stop_requested:
            if any(child.poll() is not None for child in children):
                print(
                    "The server or the worker stopped (its messages are above); stopping the rest.",
                    file=sys.stderr,
                )
                return 1
            if not announced and worker_started.is_set() and _answers(host, port):
                first_account = _output_of(account)
                if first_account is None:
                    return 1
                print(_ready_message(host, port, settings, first_account=first_account), flush=True)
                announced = True
            time.sleep(0.2)
        return 0
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if account is not None and not announced and (first_account := _output_of(account)):
            print(first_account)  # stopped before the ready message: its password is never shown again
        _stop(children)
        if database:
            database.stop()


def _port_to_listen_on(host: str, port_text: str) -> int:
    """The port from PORT, checked free before anything starts (a busy one would otherwise fail late, mid-start)."""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise LaunchError(f"PORT must be a number from 1 to 65535, not {port_text!r}")
    port = int(port_text)
    try:
        _bind_and_release(host, port)
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise LaunchError(f"Cannot listen on {host}:{port}: {err.strerror or err}") from err
        raise LaunchError(f"Port {port} is in use; try PORT={_next_free_port(host, port)} make run") from err
    return port


def _bind_and_release(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port whose last connections are still closing counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _next_free_port(host: str, busy: int) -> int:
    for candidate in range(busy + 1, min(busy + 100, 65536)):
        try:
            _bind_and_release(host, candidate)
        except OSError:
            continue
        return candidate
    return busy + 1


def _names_of_this_machine(host: str) -> list[str]:
    """What teammates may type to reach this machine, for ALLOWED_HOSTS (Django refuses any other Host)."""
    names = [_address_for_teammates(host), socket.gethostname(), socket.getfqdn(), "127.0.0.1", "localhost"]
    return list(dict.fromkeys(name for name in names if name))


def _address_for_teammates(host: str) -> str:
    if host not in EVERY_INTERFACE:
        return host
    return next(iter(_addresses_of_this_machine()), socket.gethostname())


def _addresses_of_this_machine() -> list[str]:
    addresses = []
    # A UDP "connect" sends nothing: it only picks the interface that traffic off this machine would leave by.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
        probe.connect(("192.0.2.1", 9))
        addresses.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):  # a host name that does not resolve
        addresses += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    return [address for address in addresses if not address.startswith("127.")]


def _server_command(host: str, port: int, *, reload: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "playground.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        "3",
        # Its start-up lines (and a line per request: cards poll every 3 s) would bury the ready message; Django
        # still logs errors and refused requests, and the reloader says when it reloads.
        "--log-level",
        "warning",
    ]
    if reload:
        command += ["--reload", "--reload-include", "*.html"]
        for folder in _project_folders():
            command += ["--reload-dir", str(folder)]
    return command


def _project_folders() -> list[Path]:
    """The folders of Python and templates the server runs: watching .venv too cost most of a core when idle."""
    packages = [
        folder
        for folder in sorted(ROOT.iterdir())
        if (folder / "__init__.py").exists() and folder.name not in NOT_SERVED_FOLDERS
    ]
    return [*packages, ROOT / "templates"]


def _answers(host: str, port: int) -> bool:
    # http.client, not urllib or httpx: those would go through an HTTP proxy named in the environment.
    connection = http.client.HTTPConnection(_local_address(host), port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _local_address(host: str) -> str:
    return "127.0.0.1" if host in EVERY_INTERFACE else host


def _ready_message(host: str, port: int, settings: LazySettings, *, first_account: str) -> str:
    lines = [f"Z-Image Playground is ready: http://{_local_address(host)}:{port}"]
    if host not in LOOPBACK_HOSTS:
        lines.append(
            f"  teammates: http://{_address_for_teammates(host)}:{port} (other names it answers to: ALLOWED_HOSTS)"
        )
        if not settings.REQUIRE_LOGIN:
            lines.append("  anyone who reaches it may generate: REQUIRE_LOGIN=true asks them to sign in")
    if settings.ZIMAGE_API_KEY:
        lines.append(f"  provider: {urlsplit(settings.ZIMAGE_BASE_URL).hostname} (each image is billed)")
    else:
        lines.append("  offline demo: no ZIMAGE_API_KEY set")
    if first_account:
        lines.append(f"  {first_account}")
    lines.append("  Ctrl-C stops the server, the worker and the database.")
    return "\n".join(lines)


def _embedded_database() -> EmbeddedPostgres | None:
    if os.environ.get("DATABASE_URL"):
        return None
    from playground.embedded_postgres import EmbeddedPostgres

    return EmbeddedPostgres(Path(os.environ.get("VAR_DIR", ROOT / "var")) / "pgdata")


def _manage_quietly(*command: str) -> subprocess.Popen:
    """A management command whose output is kept for `_output_of`."""
    return _spawn(sys.executable, "manage.py", *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _output_of(command: subprocess.Popen) -> str | None:
    """What the command printed, once it ends; if it failed, that is printed here and the answer is None."""
    output = command.communicate()[0].strip()
    if command.returncode != 0:
        print(output, file=sys.stderr)
        return None
    return output


def _start_worker(started: threading.Event) -> subprocess.Popen:
    """The job worker, its messages relayed but for the one that says it started: that one sets `started`."""
    worker = _spawn(sys.executable, "manage.py", "worker", stderr=subprocess.PIPE)

    def relay(messages: IO[str]) -> None:
        for line in messages:
            if line.startswith(WORKER_STARTED):
                started.set()
            else:
                sys.stderr.write(line)

    threading.Thread(target=relay, args=[worker.stderr], daemon=True).start()
    return worker


def _spawn(*command: str, stdout: int | None = None, stderr: int | None = None) -> subprocess.Popen:
    # A process group of its own: the terminal's Ctrl-C reaches this process only, which stops each child once.
    return subprocess.Popen(
        command,
        cwd=ROOT,
        process_group=0,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        stdout=stdout,
        stderr=stderr,
        text=True,
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
