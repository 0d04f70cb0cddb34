"""The test run's own OpenID Connect provider: `tests/identity_provider/provider.mjs` (the `oidc-provider` npm
package) in a Node process on the loopback, installed with `npm ci` under var/ on first use.

    with IdentityProvider() as idp:
        idp.put_user("alice", email="alice@example.com", email_verified=True, groups=["artists"])
        idp.issuer()  # http://127.0.0.1:PORT/idp; idp.issuer("expired") misbehaves (see provider.mjs)
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
from pathlib import Path

import httpx
from django.conf import settings

SOURCE = Path(__file__).resolve().parent / "identity_provider"
FILES = ("package.json", "package-lock.json", "provider.mjs")
CLIENT_ID = "playground"
CLIENT_SECRET = "playground-test-secret"  # as provider.mjs registers it
START_TIMEOUT_S = 30


def node_missing() -> str | None:
    """What to install when Node.js or npm is missing, or None when both are there."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return " and ".join(missing) or None


class IdentityProvider:
    def __init__(self) -> None:
        self.folder = Path(settings.VAR_DIR) / "identity-provider"
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> IdentityProvider:
        self._install()
        log = (self.folder / "provider.log").open("wb")
        self.process = subprocess.Popen(
            [_tool("node"), str(self.folder / "provider.mjs")],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=log,
            env=os.environ | {"PORT": "0"},
        )
        log.close()
        assert self.process.stdout is not None
        started, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        line = self.process.stdout.readline().decode().strip() if started else ""
        if not line.startswith("listening "):
            self.__exit__()
            raise RuntimeError(
                f"the test identity provider did not start: see {self.folder / 'provider.log'}"
            )
        self.base_url = line.removeprefix("listening ")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process.stdout.close()  # type: ignore[union-attr]
            self.process = None

    def issuer(self, name: str = "idp") -> str:
        """The issuer URL of one of the provider's faces: idp, wrong-issuer, wrong-audience or expired."""
        return f"{self.base_url}/{name}"

    def put_user(self, user_id: str, **claims) -> None:
        """Make or change a user, with the claims the provider answers for them (groups included)."""
        httpx.put(f"{self.base_url}/_users/{user_id}", content=json.dumps(claims)).raise_for_status()

    def _install(self) -> None:
        """Copy the provider's files under var/ and `npm ci` there, again only when the lock file changed."""
        lock = (SOURCE / "package-lock.json").read_bytes()
        stamp = self.folder / "installed.sha256"
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(SOURCE / name, self.folder / name)
        digest = hashlib.sha256(lock).hexdigest()
        if stamp.exists() and stamp.read_text() == digest and (self.folder / "node_modules").exists():
            return
        subprocess.run(
            [_tool("npm"), "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=START_TIMEOUT_S * 10,
        )
        stamp.write_text(digest)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (apt-get install nodejs npm)")
    return path
