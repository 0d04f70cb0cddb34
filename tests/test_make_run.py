"""`make run` as a newcomer meets it: what it installs, a busy port, its console, and stopping it at any moment."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from playground.embedded_postgres import EmbeddedPostgres
from tests.conftest import free_port
from tests.production import ROOT, clean_environment

ATTEMPTS = 8
# Only a bound on a hang: a first start (initdb, every migration) on a busy machine takes a minute or more, and
# a stop waits for a migration under way.
HANG_S = 180
READY_ENDS = "Ctrl-C stops the server, the worker and the database."
MAKE = shutil.which("make") or "make"


def processes_of(var_dir: Path) -> list[int]:
    """The processes running for this checkout's var folder (make, the server, the worker, PostgreSQL)."""
    marker = f"VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            pass  # gone meanwhile, or not ours to read
    return found


def is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False  # gone meanwhile


def wait_until(condition, what: str, timeout_s: float = HANG_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {timeout_s} s")
        time.sleep(0.05)


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.fixture
def var_dir(tmp_path):
    """A var folder for `make run`, and after the spec nothing left running for it, even when the spec failed."""
    var_dir = tmp_path / "var"
    yield var_dir
    for pid in processes_of(var_dir):
        if not is_postgres(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if (var_dir / "pgdata").exists():
        EmbeddedPostgres(var_dir / "pgdata").stop()


@pytest.fixture
def ctrl_c_as_a_terminal_sends_it():
    """SIGINT at its default in the `make run` started here, as in a terminal, even where this suite inherited it
    ignored (started in the background by a script): an ignored signal stays ignored across exec, a handler does
    not. Else a Ctrl-C before the launcher sets its own handler would be lost on make and the launcher alike."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)


@pytest.mark.production
def test_make_run_survives_being_stopped_at_any_moment_and_then_starts_and_stops_cleanly(
    tmp_path, var_dir, ctrl_c_as_a_terminal_sends_it
):
    port = free_port()
    env = clean_environment() | {"VAR_DIR": str(var_dir), "PORT": str(port), "ZIMAGE_DEMO_LATENCY_S": "0"}
    env.pop("DATABASE_URL", None)
    seed = int(os.environ.get("MAKE_RUN_SEED", random.randrange(10_000)))  # noqa: S311 (a test's dice)
    chance = random.Random(seed)  # noqa: S311
    logs: list[Path] = []

    def start() -> subprocess.Popen:
        logs.append(tmp_path / f"make-run-{len(logs)}.log")
        with logs[-1].open("w") as output:
            return subprocess.Popen(
                [MAKE, "run"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    for attempt in range(ATTEMPTS):
        make = start()
        # A random moment: after some number of lines of output, none up to the ready message that ends it (5
        # lines, 6 with the first start's account).
        after_lines = chance.randrange(0, 7)
        wait_until(
            lambda make=make, after=after_lines: (
                lines(logs[-1]) >= after or READY_ENDS in logs[-1].read_text() or make.poll() is not None
            ),
            "output",
        )
        stop = chance.choice([signal.SIGINT, signal.SIGINT, signal.SIGKILL])
        os.killpg(make.pid, stop)
        make.wait(timeout=HANG_S)
        print(f"seed {seed}, attempt {attempt}: {stop.name} after {after_lines} lines")
        # The server and worker go with make (a killed launcher's children follow it); PostgreSQL may stay.
        wait_until(
            lambda: all(is_postgres(pid) for pid in processes_of(var_dir)),
            f"only PostgreSQL left after {stop.name} (seed {seed})",
        )

    make = start()
    ready = f"Z-Image Playground is ready: http://127.0.0.1:{port}"
    wait_until(lambda: ready in logs[-1].read_text(), f"make run serving (seed {seed})")
    # The address is given once the server answers.
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
    console = logs[-1].read_text()
    assert "Database ready" in console
    assert "Applying" not in console
    assert "offline demo: no ZIMAGE_API_KEY set" in console
    # The local account's password is shown once, with the address; none if a kill came between the two.
    assert sum(log.read_text().count("made the account 'admin' with password") for log in logs) <= 1
    os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=HANG_S)

    wait_until(lambda: not processes_of(var_dir), "nothing left running after Ctrl-C")


def test_make_run_on_a_busy_port_says_which_port_to_try_and_starts_nothing(var_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = clean_environment() | {"VAR_DIR": str(var_dir), "PORT": str(port)}
        env.pop("DATABASE_URL", None)

        make = subprocess.run([MAKE, "run"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)

    assert make.returncode != 0
    assert f"Port {port} is in use; try PORT=" in make.stderr
    assert "ready" not in make.stdout
    assert not (var_dir / "pgdata").exists()
    assert not processes_of(var_dir)


def test_make_run_installs_what_running_needs_and_no_development_tool(tmp_path):
    venv = tmp_path / "venv"

    subprocess.run(
        [MAKE, f"VENV={venv}", f"{venv}/.synced-run"], cwd=ROOT, env=clean_environment(), check=True
    )

    def imports(modules: str) -> bool:
        python = venv / "bin" / "python"
        return (
            subprocess.run([python, "-c", f"import {modules}"], capture_output=True, check=False).returncode
            == 0
        )

    assert imports("django, uvicorn, procrastinate, pgserver, watchfiles")
    for development_tool in ("pytest", "playwright", "moto", "respx", "ruff"):
        assert not imports(development_tool), f"make run installs {development_tool}"
