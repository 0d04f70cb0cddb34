"""The playground started exactly as in production (bin/start: migrate, sweep, gunicorn), for tests and benchmarks.

It runs from a virtual environment with only the runtime dependencies, synced from uv.lock as the Dockerfile
does (`uv sync --no-dev`), so an import of a development package cannot hide behind the test environment. It
gets DEBUG off, collected static files, a media folder under `var_dir`, and a `DATABASE_URL` naming an embedded
PostgreSQL whose data also lives there.
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

from playground.embedded_postgres import embedded_database_settings

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_VENV = ROOT / "var" / "production-venv"


def clean_environment() -> dict[str, str]:
    """This process's environment without what the test runner added for itself."""
    return {name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}


class ProductionServer:
    def __init__(
        self, *, var_dir: Path, port: int, provider_base_url: str, provider_key: str, **env: str
    ) -> None:
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{port}"
        self.database_settings = embedded_database_settings(var_dir)
        self.env = (
            os.environ
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
        self.process: subprocess.Popen | None = None

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

    def manage(self, *args: str, **env: str) -> None:
        subprocess.run(
            [PRODUCTION_VENV / "bin" / "python", "manage.py", *args], env=self.env | env, cwd=ROOT, check=True
        )

    def start(self, *, output: IO[str] | None = None) -> None:
        """Run bin/start until /healthz answers; its output goes to `output` (default: this process's)."""
        self.process = subprocess.Popen(
            [str(ROOT / "bin" / "start")],
            env=self.env,
            cwd=ROOT,
            start_new_session=True,
            stdout=output,
            stderr=output,
        )
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"bin/start exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("the production server did not become healthy in 30 s")

    def stop(self) -> int:
        """Stop gracefully (SIGTERM, as Docker does) and return the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        """Kill gunicorn and its workers at once, as a crash or an OOM kill would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def database(self) -> psycopg.Connection:
        settings = self.database_settings
        return psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            host=settings["HOST"],
            port=settings["PORT"],
            autocommit=True,
        )


def csrf_token(client: httpx.Client) -> str:
    """The CSRF token of the home page's form (the client keeps the matching cookie)."""
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/").text)[1]


def post_generation(client: httpx.Client, token: str, prompt: str, **fields: str) -> httpx.Response:
    """Submit the home page's form as htmx does, a 1024x1024 image unless `fields` say otherwise."""
    data = {"prompt": prompt, "size": "1024x1024", "csrfmiddlewaretoken": token} | fields
    response = client.post("/generate/", data=data, headers={"HX-Request": "true"})
    response.raise_for_status()
    return response


def _database_url(settings: dict[str, str]) -> str:
    host = quote(settings["HOST"], safe="")  # a socket folder is a path
    return f"postgres://{settings['USER']}@{host}:{settings['PORT']}/{settings['NAME']}"
