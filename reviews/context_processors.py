from __future__ import annotations

from django.http import HttpRequest

from reviews.selectors import unseen_mention_count


def inbox(request: HttpRequest) -> dict:
    """How many @mentions the signed-in user has not seen yet: the header's inbox count."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_count": unseen_mention_count(user=user)}
