from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from procrastinate.contrib.django import app as job_engine
from procrastinate.contrib.django.utils import connector_params

from generations.provider.client import HttpProvider
from generations.services.tokens import api_token_create
from lib.db import OutageTolerantConnector
from playground.embedded_postgres import EmbeddedPostgres
from tests.fake_provider import TIMEOUT_FAULT_S, FakeProvider
from tests.identity_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider, node_missing


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember whether the embedded PostgreSQL runs already: a test run stops only what it started."""
    database = _embedded_database()
    session.config.stash[_STARTED_DATABASE] = database is not None and not database.is_running()


def pytest_sessionfinish(session: pytest.Session) -> None:
    database = _embedded_database()
    if database is not None and session.config.stash.get(_STARTED_DATABASE, False):
        database.stop()


_STARTED_DATABASE = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium, or without Node.js for the identity provider, stop at once with what to do, rather than
    fail every spec that needs it."""
    if not Path(CHROMIUM).exists() and _any_uses(items, "browser"):
        pytest.exit(
            f"Chromium is not installed ({CHROMIUM}): run `apt-get install -y chromium` (as .ci/run does), "
            "or `make test-fast` for everything but the browser and production specs.",
            returncode=4,
        )
    if (missing := node_missing()) and _any_uses(items, "identity_provider"):
        pytest.exit(
            f"{missing} is not installed, and the sign-in specs run a real OpenID Connect provider on Node.js: "
            "run `apt-get install -y nodejs npm` (as .ci/run does).",
            returncode=4,
        )


def _any_uses(items: list[pytest.Item], fixture: str) -> bool:
    return any(fixture in getattr(item, "fixturenames", ()) for item in items)


def _embedded_database() -> EmbeddedPostgres | None:
    data_dir = django_settings.DATABASES["default"].get("DATA_DIR")
    return EmbeddedPostgres(Path(data_dir)) if data_dir else None


@pytest.fixture(scope="session")
def fake_provider_server():
    with FakeProvider() as server:
        yield server


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[IdentityProvider]:
    """A real OpenID Connect provider (oidc-provider on Node.js) on the loopback, for the whole run."""
    with IdentityProvider() as provider:
        yield provider


@pytest.fixture
def sso(settings, identity_provider: IdentityProvider) -> IdentityProvider:
    """The playground signing people in with the test identity provider, as a deployed instance would: sign-in
    required, staff from the group `admins`, members from `artists`."""
    settings.REQUIRE_LOGIN = True
    settings.OIDC_ISSUER = identity_provider.issuer()
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_NAME = "Test IdP"
    settings.OIDC_SCOPES = ["openid", "email", "profile", "groups"]
    settings.OIDC_ADMIN_GROUPS = ["admins"]
    settings.OIDC_MEMBER_GROUPS = ["artists"]
    settings.SECURE_CSP = settings.SECURE_CSP | {"form-action": ["'self'", identity_provider.base_url]}
    return identity_provider


@pytest.fixture
def fake_provider(fake_provider_server: FakeProvider) -> FakeProvider:
    """The shared fake, as new: no requests seen, no latency, the usual key (tests may change those)."""
    fake_provider_server.reset()
    return fake_provider_server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_http_provider(fake_provider: FakeProvider, **overrides) -> HttpProvider:
    options: dict[str, Any] = {
        "base_url": fake_provider.base_url,
        "api_key": fake_provider.api_key,
        "model": "z-image-turbo",
        "deadline_s": 10.0,
        "connect_timeout_s": 2.0,
        "max_attempts": 4,
        "max_image_bytes": 8 * 1024 * 1024,
    } | overrides
    return HttpProvider(**options)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The waits the client makes before its retries, recorded instead of slept."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("generations.provider.client._pause", record)
    return waits


@pytest.fixture
def use_fake_provider(settings, fake_provider: FakeProvider) -> FakeProvider:
    """Point the playground at the fake provider, as if ZIMAGE_API_KEY and ZIMAGE_BASE_URL were set."""
    settings.ZIMAGE_API_KEY = fake_provider.api_key
    settings.ZIMAGE_BASE_URL = fake_provider.base_url
    # No spec through this fixture is about the deadline (those that are set theirs): it outlasts the fake's
    # longest hold, so a call a spec holds, or a busy machine slows, never ends as a timeout.
    settings.ZIMAGE_DEADLINE_S = 2 * TIMEOUT_FAULT_S
    settings.ZIMAGE_MAX_ATTEMPTS = 2
    return fake_provider


@pytest.fixture
def demo_mode(settings) -> None:
    settings.ZIMAGE_API_KEY = ""
    settings.ZIMAGE_DEMO_LATENCY_S = 0.0


def run_async(function, *args, **kwargs):
    """Call an async function to its end from a test, and return what it returns."""
    run = functools.partial(async_to_sync(function), *args, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # Playwright's sync API keeps a loop in this thread, where async code cannot be waited for.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


# Waits are for events (an image landing, a card refreshing); this only bounds them on a busy two-core machine.
expect.set_options(timeout=15_000)

# pytest-django's live_server and Playwright's sync API share the main thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[str]:
    """The playground served over real HTTP as in production (Django's ASGI app under uvicorn), in a thread.

    Its base URL. pytest-django's live_server is WSGI, which cannot stream live updates or wait without a thread.
    """
    server = uvicorn.Server(
        uvicorn.Config(
            ASGIHandler(),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, name="asgi server", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the ASGI server did not start")
        threading.Event().wait(0.01)
    yield f"http://{server.config.host}:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served(asgi_server: str) -> Iterator[httpx.Client]:
    """An HTTP client of the playground served over ASGI, for specs of its async views (the API) from a spec's
    own thread: once Playwright runs in this process, that thread counts as running an event loop, and Django's
    sync test client refuses to call an async view from it."""
    with httpx.Client(base_url=asgi_server, timeout=30) as client:
        yield client


@pytest.fixture(scope="session", autouse=True)
def _test_database_freed_at_the_end(django_db_setup, django_db_blocker) -> Iterator[None]:
    """A test's in-thread server can stop with a request half-answered, whose connection then never goes back to
    the pool; end such sessions before the test database is dropped (a production server exits instead)."""
    yield
    with django_db_blocker.unblock():
        connection.close()  # a fresh one: a spec that restarts or kills servers may have ended this one
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def worker_concurrency() -> int:
    """How many generations the test worker runs at once (parametrize this name to change it)."""
    return 20


@pytest.fixture
def worker(transactional_db, worker_concurrency: int) -> Iterator[None]:
    """A real job worker (procrastinate over the test database, LISTEN/NOTIFY included) in a thread.

    Its tasks run exactly as under `manage.py worker`; only the process is shared with the tests.
    """
    with running_worker(concurrency=worker_concurrency):
        yield


@contextlib.contextmanager
def running_worker(*, concurrency: int, name: str = "test worker") -> Iterator[None]:
    """A job worker in a thread of its own, with its own connections, for as long as the block runs: two of these
    are two workers to the database, as two processes would be."""
    connection_options = connector_params() | {"application_name": name}
    worker_app = job_engine.with_connector(
        OutageTolerantConnector(
            kwargs=connection_options, outage_grace_s=django_settings.WORKER_DATABASE_OUTAGE_S
        )
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def run() -> None:
        async with worker_app.open_async():
            worker_task = asyncio.create_task(
                worker_app.run_worker_async(
                    install_signal_handlers=False,
                    concurrency=concurrency,
                    shutdown_graceful_timeout=2,
                )
            )
            ready.set()
            await stop.wait()
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
        # The periodic deferrer reaches the database through Django here (the test app's connector), on
        # asgiref's thread for sync calls: hand that connection back, or the test database cannot be dropped.
        await sync_to_async(connections.close_all)()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name=name, daemon=True)
    thread.start()
    ready.wait(timeout=10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        assert not thread.is_alive(), "the worker stopped"
        _wait_until_disconnected(name)


def _wait_until_disconnected(application_name: str) -> None:
    """PostgreSQL ends a session a moment after its client hangs up; the test database is dropped after."""
    with connection.cursor() as cursor:
        for _ in range(100):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name]
            )
            if cursor.fetchone()[0] == 0:
                return
            threading.Event().wait(0.05)
    raise AssertionError(f"sessions of {application_name!r} still open")


@pytest.fixture
def playground(asgi_server: str, worker: None) -> str:
    """The whole playground, web and a worker, at this base URL."""
    return asgi_server


@pytest.fixture
def api(playground, django_user_model, use_fake_provider) -> dict:
    """A live playground in front of the fake provider, and a personal token of alice's."""
    alice = django_user_model.objects.create_user("alice")
    _token, plaintext = api_token_create(user=alice, name="tests")
    return {
        "base_url": f"{playground}/v1",
        "token": plaintext,
        "user": alice,
        "origin": playground,
        "fake": use_fake_provider,
    }


@pytest.fixture
def page(browser: Browser, playground: str) -> Iterator[Page]:
    context = browser.new_context(base_url=playground)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


PHONE: ViewportSize = {"width": 390, "height": 844}
TABLET: ViewportSize = {"width": 768, "height": 1024}
DESKTOP: ViewportSize = {"width": 1440, "height": 900}


@pytest.fixture
def open_page(browser: Browser, playground: str) -> Iterator[Callable[..., Page]]:
    """Open a page on the playground at a viewport: `open_page(PHONE)` is a touch screen with a mobile
    viewport; other options go to the browser context (`color_scheme="dark"`, `java_script_enabled=False`)."""
    contexts = []

    def open_page(viewport: ViewportSize = DESKTOP, **options) -> Page:
        touch = viewport["width"] < 800
        context = browser.new_context(
            base_url=playground, viewport=viewport, is_mobile=touch, has_touch=touch, **options
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def overflows_sideways(page: Page) -> bool:
    """Whether the page is wider than the screen (a phone would scroll it sideways)."""
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def open_main_menu(page: Page) -> None:
    """On a phone the header's navigation and account are one menu button: open it (elsewhere they show)."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()


def follow_main_link(page: Page, name: str) -> None:
    """Follow a link of the header's navigation, opening its menu first on a phone."""
    open_main_menu(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
