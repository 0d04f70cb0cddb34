from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from generations.permissions import MAY_NOT_GENERATE, may_generate


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
        # Asked only by the templates that offer to spend (the template engine calls it).
        "may_generate": partial(may_generate, user or AnonymousUser()),
        "may_not_generate": MAY_NOT_GENERATE,
    }
