from __future__ import annotations

import os
import shutil
import socket

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from generations.models import Generation
from generations.services.provider import HttpProvider
from generations.sizes import aspect_ratio
from tests.fake_provider import FakeProvider


@pytest.fixture(scope="session")
def fake_provider_server():
    with FakeProvider() as server:
        yield server


@pytest.fixture
def fake_provider(fake_provider_server: FakeProvider) -> FakeProvider:
    """The shared fake, as new: no requests seen, no latency, the usual key (tests may change those)."""
    fake_provider_server.requests.clear()
    fake_provider_server.latency_s = 0.0
    fake_provider_server.api_key = "test-key"
    return fake_provider_server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_http_provider(fake_provider: FakeProvider, **overrides) -> HttpProvider:
    options = {
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
def use_fake_provider(settings, fake_provider: FakeProvider) -> FakeProvider:
    """Point the playground at the fake provider, as if ZIMAGE_API_KEY and ZIMAGE_BASE_URL were set."""
    settings.ZIMAGE_API_KEY = fake_provider.api_key
    settings.ZIMAGE_BASE_URL = fake_provider.base_url
    settings.ZIMAGE_DEADLINE_S = 10.0
    settings.ZIMAGE_MAX_ATTEMPTS = 2
    return fake_provider


@pytest.fixture
def demo_mode(settings) -> None:
    settings.ZIMAGE_API_KEY = ""
    settings.ZIMAGE_DEMO_LATENCY_S = 0.0


def make_generation(**fields) -> Generation:
    values = {
        "prompt": "A lighthouse at dusk",
        "width": 1024,
        "height": 1536,
        "seed": 42,
        "model": "z-image-turbo",
    } | fields
    values.setdefault("aspect_ratio", aspect_ratio(values["width"], values["height"]))
    return Generation.objects.create(**values)


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
def browser() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Page:
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
