"""Who may spend. Generating costs money, so where sign-in is required only people whose role allows it may
generate: those with the permission below, which the accounts app grants to members and staff (viewers lack it).
An open instance (REQUIRE_LOGIN off) lets anyone generate, signed in or not: a role there could be dodged by
signing out."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

GENERATE_PERMISSION = "generations.add_generation"
MAY_NOT_GENERATE = (
    "Your role lets you look around, rate and comment, but not make images or API tokens. "
    "Ask a staff member for the member role."
)


def may_generate(user: User | AnonymousUser) -> bool:
    return not settings.REQUIRE_LOGIN or user.has_perm(GENERATE_PERMISSION)
