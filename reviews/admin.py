from __future__ import annotations

from django.contrib import admin

from reviews.models import Board, BoardShareLink, Comment, Guest


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "smart_query", "updated_at")
    search_fields = ("name", "public_id")
    raw_id_fields = ("owner", "owner_guest", "members")


@admin.register(BoardShareLink)
class BoardShareLinkAdmin(admin.ModelAdmin):
    list_display = ("__str__", "board", "scope", "audience", "is_active", "created_at")
    list_filter = ("is_active", "scope", "audience")
    raw_id_fields = ("board", "created_by")
    exclude = ("token",)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "generation", "board", "created_at", "deleted_at")
    search_fields = ("text",)
    raw_id_fields = ("user", "guest", "generation", "board", "parent", "share_link")


@admin.register(Guest)
class GuestAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at")
    exclude = ("session_key",)
