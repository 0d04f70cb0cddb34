from __future__ import annotations

import pytest

from generations.services.provider import HttpProvider
from tests.fake_provider import FakeProvider


@pytest.fixture(scope="session")
def fake_provider_server():
    with FakeProvider() as server:
        yield server


@pytest.fixture
def fake_provider(fake_provider_server: FakeProvider) -> FakeProvider:
    fake_provider_server.requests.clear()
    return fake_provider_server


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
