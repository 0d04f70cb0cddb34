from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest


def provider(request: HttpRequest) -> dict:
    """What every page shows about the provider (above all, whether this is the offline demo), and whether this
    visitor is offered what costs money: not a signed-out one where signing in is required."""
    user = getattr(request, "user", None)
    may_generate = not settings.REQUIRE_LOGIN or (user is not None and user.is_authenticated)
    return {
        "demo_mode": not settings.ZIMAGE_API_KEY,
        "provider_model": settings.ZIMAGE_MODEL,
        # The host name alone, and only to those who may generate: a gateway's URL may carry a user name and
        # password, or a key in its path.
        "provider_host": (urlsplit(settings.ZIMAGE_BASE_URL).hostname or "") if may_generate else "",
        "require_login": settings.REQUIRE_LOGIN,
        "may_generate": may_generate,
    }
