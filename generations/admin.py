from __future__ import annotations

from django.contrib import admin

from generations.models import Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["public_id", "status", "short_prompt", "size", "seed", "user", "is_demo", "created_at"]
    list_filter = ["status", "is_demo", "prompt_extend", "model"]
    search_fields = ["public_id", "prompt", "revised_prompt"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["public_id", "created_at", "finished_at"]

    @admin.display(description="prompt")
    def short_prompt(self, generation: Generation) -> str:
        return generation.prompt[:80]
