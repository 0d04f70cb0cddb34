"""`make run` in a fresh folder, stopped at random moments (Ctrl-C or a kill) many times, still starts and stops."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.production import ROOT, clean_environment

ATTEMPTS = 8


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


def wait_until(condition, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not the case after {timeout_s} s")
        time.sleep(0.05)


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.mark.production
def test_make_run_survives_being_stopped_at_any_moment_and_then_starts_and_stops_cleanly(tmp_path):
    var_dir = tmp_path / "var"
    port = free_port()
    env = clean_environment() | {"VAR_DIR": str(var_dir), "PORT": str(port), "ZIMAGE_DEMO_LATENCY_S": "0"}
    env.pop("DATABASE_URL", None)
    seed = int(os.environ.get("MAKE_RUN_SEED", random.randrange(10_000)))  # noqa: S311 (a test's dice)
    chance = random.Random(seed)  # noqa: S311
    log = tmp_path / "make-run.log"

    def start() -> subprocess.Popen:
        with log.open("w") as output:
            return subprocess.Popen(
                [shutil.which("make") or "make", "run"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    for attempt in range(ATTEMPTS):
        make = start()
        # A random moment: after some number of lines of output (none, or well into serving).
        after_lines = chance.randrange(0, 14)
        wait_until(
            lambda make=make, after=after_lines: lines(log) >= after or make.poll() is not None, "output"
        )
        stop = chance.choice([signal.SIGINT, signal.SIGINT, signal.SIGKILL])
        os.killpg(make.pid, stop)
        make.wait(timeout=60)
        print(f"seed {seed}, attempt {attempt}: {stop.name} after {after_lines} lines")
        # The server and worker go with make (a killed launcher's children follow it); PostgreSQL may stay.
        wait_until(
            lambda: all(
                Path(f"/proc/{pid}/comm").read_text().strip() == "postgres" for pid in processes_of(var_dir)
            ),
            f"only PostgreSQL left after {stop.name} (seed {seed})",
        )

    make = start()
    wait_until(lambda: _answers(f"http://127.0.0.1:{port}/readyz"), f"make run serving (seed {seed})", 120)
    assert "Operations to perform" in log.read_text()
    os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=60)

    wait_until(lambda: not processes_of(var_dir), "nothing left running after Ctrl-C")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
