"""The PostgreSQL backend, starting the embedded server under var/ when it first connects (see the package)."""

from __future__ import annotations

from pathlib import Path

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper

from playground.embedded_postgres import EmbeddedPostgres

_ensured: set[Path] = set()


class DatabaseWrapper(PostgresDatabaseWrapper):
    def get_connection_params(self) -> dict:
        data_dir = Path(self.settings_dict["DATA_DIR"])
        if data_dir not in _ensured:
            EmbeddedPostgres(data_dir).ensure_running()
            _ensured.add(data_dir)
        return super().get_connection_params()
