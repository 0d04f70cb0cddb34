"""The playground started exactly as in production, web (bin/start) and worker (bin/worker), for tests and benchmarks.

It runs from a virtual environment with only the runtime dependencies, synced from uv.lock as the Dockerfile
does (`uv sync --no-dev`), so an import of a development package cannot hide behind the test environment. It
gets DEBUG off, collected static files, a media folder under `var_dir`, and a `DATABASE_URL` naming an embedded
PostgreSQL of its own whose data also lives there, stopped again by `close()`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx
import psycopg

from playground.embedded_postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_VENV = ROOT / "var" / "production-venv"


# Added by the test runner for itself, or by the `make test` that started it: a `make` under `make` prints
# "Entering directory" lines that a person's `make run` does not.
_RUNNERS_OWN = {
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "MAKELEVEL",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKE_TERMOUT",
    "MAKE_TERMERR",
}


def clean_environment() -> dict[str, str]:
    """This process's environment without what the test runner added for itself."""
    return {name: value for name, value in os.environ.items() if name not in _RUNNERS_OWN}


class ProductionServer:
    def __init__(
        self, *, var_dir: Path, port: int, provider_base_url: str, provider_key: str, **env: str
    ) -> None:
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{port}"
        self.database_server = EmbeddedPostgres(var_dir / "pgdata")
        self.database_server.ensure_running()
        self.database_settings = self.database_server.database_settings()
        self.env = (
            clean_environment()
            | {
                "PATH": f"{PRODUCTION_VENV / 'bin'}:{os.environ.get('PATH', '')}",
                "DJANGO_SETTINGS_MODULE": "playground.settings",
                "DATABASE_URL": _database_url(self.database_settings),
                "VAR_DIR": str(var_dir),
                "DEBUG": "false",
                "SECRET_KEY": "production-test-secret-key",
                "ALLOWED_HOSTS": "127.0.0.1",
                "ZIMAGE_API_KEY": provider_key,
                "ZIMAGE_BASE_URL": provider_base_url,
                "BIND": f"127.0.0.1:{port}",
                "GUNICORN_ACCESS_LOG": "",
            }
            | env
        )
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def prepare(self) -> None:
        """Sync the runtime-only environment and collect static files, as the Dockerfile's build does."""
        uv = shutil.which("uv", path=ROOT / "var" / "tools" / "bin") or "uv"  # the Makefile's, else PATH's
        runtime_only = ["--frozen", "--no-dev", "--no-install-project", "--quiet", "--python", sys.executable]
        subprocess.run(
            [uv, "sync", *runtime_only],
            env=os.environ | {"UV_PROJECT_ENVIRONMENT": str(PRODUCTION_VENV)},
            cwd=ROOT,
            check=True,
        )
        self.manage("collectstatic", "--no-input", "-v0")

    def manage(self, *args: str, **env: str) -> str:
        """Run a management command as the image would; its output."""
        completed = subprocess.run(
            [PRODUCTION_VENV / "bin" / "python", "manage.py", *args],
            env=self.env | env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr}")
        return completed.stdout

    def start(self, *, output: IO[str] | None = None) -> None:
        """Start the web (bin/start) until /healthz answers, and one worker; their output goes to `output`."""
        self.web = self._spawn("start", output)
        # Only a bound on a hang: gunicorn and its workers import Django, which a busy machine slows a lot.
        deadline = time.monotonic() + 120
        while not self._healthy():
            if self.web.poll() is not None:
                raise RuntimeError(f"bin/start exited with {self.web.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the production server did not become healthy in 120 s")
            time.sleep(0.1)
        self.start_worker(output=output)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, *, output: IO[str] | None = None) -> subprocess.Popen:
        worker = self._spawn("worker", output)
        self.workers.append(worker)
        return worker

    def stop_worker(self, worker: subprocess.Popen) -> int:
        """Stop one worker gracefully (SIGTERM: running generations finish first); its exit status."""
        worker.send_signal(signal.SIGTERM)
        return worker.wait(timeout=60)

    def stop(self) -> list[int]:
        """Stop web and workers gracefully (SIGTERM, as Docker does) and return their exit statuses."""
        processes = [process for process in (self.web, *self.workers) if process and process.poll() is None]
        for process in processes:
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=60) for process in processes]

    def kill(self, process: subprocess.Popen) -> None:
        """Kill a process and its children at once, as a crash or an OOM kill would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        """Kill whatever still runs, then stop the database: a test run leaves no process behind."""
        for process in (self.web, *self.workers):
            if process is not None and process.poll() is None:
                self.kill(process)
        self.database_server.stop()

    def database(self) -> psycopg.Connection:
        settings = self.database_settings
        return psycopg.connect(
            dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], autocommit=True
        )

    def _spawn(self, script: str, output: IO[str] | None) -> subprocess.Popen:
        return subprocess.Popen(
            [str(ROOT / "bin" / script)],
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
            stdout=output,
            stderr=output,
        )


def csrf_token(client: httpx.Client, path: str = "/") -> str:
    """The CSRF token of the form on the page at `path` (the client keeps the matching cookie)."""
    return first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).text)


def first_group(pattern: str, text: str) -> str:
    """The first group of `pattern`'s first match in `text`, which must have one."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} is not found"
    return match[1]


def post_generation(client: httpx.Client, token: str, prompt: str, **fields: str) -> httpx.Response:
    """Submit the home page's form as htmx does, a 1024x1024 image unless `fields` say otherwise."""
    data = {"prompt": prompt, "size": "1024x1024", "csrfmiddlewaretoken": token} | fields
    response = client.post("/generate/", data=data, headers={"HX-Request": "true"})
    response.raise_for_status()
    return response


def _database_url(settings: dict[str, str]) -> str:
    host = quote(settings["HOST"], safe="")  # a socket folder is a path
    return f"postgres://{settings['USER']}@{host}:{settings['PORT']}/{settings['NAME']}"
