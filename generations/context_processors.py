from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def provider(request: HttpRequest) -> dict:
    """What every page shows about the provider: above all, whether this is the offline demo."""
    user = getattr(request, "user", None)
    may_see_host = not settings.REQUIRE_LOGIN or (user is not None and user.is_authenticated)
    return {
        "demo_mode": not settings.ZIMAGE_API_KEY,
        "provider_model": settings.ZIMAGE_MODEL,
        # The host name alone: a gateway's URL may carry a user name and password, or a key in its path.
        "provider_host": (urlsplit(settings.ZIMAGE_BASE_URL).hostname or "") if may_see_host else "",
        "require_login": settings.REQUIRE_LOGIN,
        "price_currency": settings.PRICE_CURRENCY,
    }
