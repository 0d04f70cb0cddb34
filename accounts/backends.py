"""Django's ModelBackend, plus what a role grants: members and staff may generate."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from accounts.models import Role, role_of
from generations.permissions import GENERATE_PERMISSION


class RoleBackend(ModelBackend):
    def has_perm(self, user_obj: User | AnonymousUser, perm: str, obj: Model | None = None) -> bool:
        if (
            perm == GENERATE_PERMISSION
            and isinstance(user_obj, User)
            and user_obj.is_active
            and role_of(user_obj) != Role.VIEWER
        ):
            return True
        return super().has_perm(user_obj, perm, obj)
