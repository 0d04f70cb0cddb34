from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def provider(request: HttpRequest) -> dict:
    """What every page shows about the provider: above all, whether this is the offline demo."""
    return {
        "demo_mode": not settings.ZIMAGE_API_KEY,
        "provider_model": settings.ZIMAGE_MODEL,
        "provider_host": urlsplit(settings.ZIMAGE_BASE_URL).netloc,
        "require_login": settings.REQUIRE_LOGIN,
    }
