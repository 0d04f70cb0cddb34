"""`python -m playground.embedded_postgres start|stop|status` for the server under $VAR_DIR/pgdata (var/)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playground.embedded_postgres import EmbeddedPostgres


def main(action: str) -> int:
    server = EmbeddedPostgres((Path(os.environ.get("VAR_DIR", "var")) / "pgdata").resolve())
    if action == "start":
        server.ensure_running()
    elif action == "stop":
        server.stop()
    elif action != "status":
        print(__doc__, file=sys.stderr)
        return 2
    print(f"embedded PostgreSQL in {server.data_dir}: {'running' if server.is_running() else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
