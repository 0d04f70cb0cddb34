from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import AuditEvent, Invite, Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["user", "may_generate", "invited_by"]
    list_filter = ["may_generate"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user", "invited_by"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: read here, changed only by the people pages."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "subject_label", "actor", "detail", "ip_address"]
    list_filter = ["kind"]
    search_fields = ["subject_label", "detail"]


@admin.register(Invite)
class InviteAdmin(ReadOnlyAdmin):
    list_display = ["note", "role", "created_by", "created_at", "expires_at", "accepted_by", "revoked_at"]
