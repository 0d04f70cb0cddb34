"""Personal API tokens: shown once when made, stored only as a SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import User
from django.utils import timezone

from generations.models import ApiToken

TOKEN_PREFIX = "zimg_"  # noqa: S105 (a prefix, not a secret)


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token itself, which is never stored or shown again."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, token_hash=_digest(plaintext), prefix=plaintext[: len(TOKEN_PREFIX) + 6]
    )
    return token, plaintext


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of `user`'s own tokens; False when there is no such active token of theirs."""
    return bool(ApiToken.objects.active().filter(user=user, pk=token_id).update(revoked_at=timezone.now()))


def api_token_user(plaintext: str) -> User | None:
    """The active user a token belongs to, or None. Marks the token as used."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.active().select_related("user").filter(token_hash=_digest(plaintext)).first()
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def _digest(plaintext: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()
