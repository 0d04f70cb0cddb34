"""The playground started exactly as in production (bin/start: migrate, sweep, gunicorn), for tests and benchmarks.

It gets its own embedded PostgreSQL and media folder under `var_dir`, DEBUG off, and collected static files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from playground.embedded_postgres import embedded_database_settings

ROOT = Path(__file__).resolve().parent.parent


def clean_environment() -> dict[str, str]:
    """This process's environment without what the test runner added for itself."""
    return {name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}


class ProductionServer:
    def __init__(
        self, *, var_dir: Path, port: int, provider_base_url: str, provider_key: str, **env: str
    ) -> None:
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{port}"
        self.env = (
            os.environ
            | {
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                "DJANGO_SETTINGS_MODULE": "playground.settings",
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
        self.manage("collectstatic", "--no-input", "-v0")

    def manage(self, *args: str, **env: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], env=self.env | env, cwd=ROOT, check=True)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(ROOT / "bin" / "start")], env=self.env, cwd=ROOT, start_new_session=True
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
        settings = embedded_database_settings(self.var_dir)
        return psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            host=settings["HOST"],
            port=settings["PORT"],
            autocommit=True,
        )
