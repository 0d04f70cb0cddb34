"""Django's ModelBackend, plus what a role grants: members and staff may generate."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import Role, role_of
from generations.permissions import GENERATE_PERMISSION


class RoleBackend(ModelBackend):
    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        if perm == GENERATE_PERMISSION and user_obj.is_active and role_of(user_obj) != Role.VIEWER:
            return True
        return super().has_perm(user_obj, perm, obj)
