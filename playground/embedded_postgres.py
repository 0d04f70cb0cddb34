"""A PostgreSQL server under var/ for development and tests, used only when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from django.core.exceptions import ImproperlyConfigured

DATABASE_NAME = "playground"


def embedded_database_settings(var_dir: Path) -> dict[str, str]:
    """Start (or reuse) the server whose data lives in var_dir/pgdata and return Django database settings.

    The server is left running so that later commands connect at once; `make db-stop` stops it.
    """
    try:
        with warnings.catch_warnings(action="ignore"):  # platformdirs warns about XDG_RUNTIME_DIR on import
            import pgserver
    except ImportError as err:
        raise ImproperlyConfigured(
            "DATABASE_URL is not set and the embedded PostgreSQL (the pgserver package, a development "
            "dependency) is not installed. Set DATABASE_URL=postgres://user:password@host:5432/name."
        ) from err

    # pgserver logs at interpreter exit, after test runners have closed their streams.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    var_dir.mkdir(parents=True, exist_ok=True)
    info = pgserver.get_server(var_dir / "pgdata", cleanup_mode=None).get_postmaster_info()
    connection = {"user": "postgres", "host": str(info.socket_dir or "127.0.0.1"), "port": str(info.port)}
    with psycopg.connect(dbname="postgres", autocommit=True, **connection) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            admin.execute(f"CREATE DATABASE {DATABASE_NAME}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": connection["user"],
        "HOST": connection["host"],
        "PORT": connection["port"],
    }
