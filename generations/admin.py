from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList

from generations.models import ApiToken, Batch, Generation, PersonBudget, Price


class DateDrillDownChangeList(ChangeList):
    """Django's date drill-down lets an OverflowError out of a year too large for a date (`?created_at__year=`
    with 30 digits), which is a 500; such a year is an incorrect lookup like any other (the page says so)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as err:
            raise IncorrectLookupParameters(err) from err


class DateDrillDownAdmin(admin.ModelAdmin):
    def get_changelist(self, request, **kwargs):
        return DateDrillDownChangeList


@admin.register(Generation)
class GenerationAdmin(DateDrillDownAdmin):
    list_display = [
        "public_id",
        "status",
        "short_prompt",
        "size",
        "seed",
        "user",
        "source",
        "is_demo",
        "cost",
        "created_at",
    ]
    list_filter = ["status", "source", "is_demo", "prompt_extend", "is_favourite", "model"]
    search_fields = ["public_id", "prompt", "revised_prompt"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["public_id", "created_at", "finished_at", "price", "cost", "may_be_billed"]

    @admin.display(description="prompt")
    def short_prompt(self, generation: Generation) -> str:
        return generation.prompt[:80]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["token_hash", "prefix", "created_at", "last_used_at"]


@admin.register(Batch)
class BatchAdmin(DateDrillDownAdmin):
    list_display = ["public_id", "created_at", "user", "cells_asked"]
    search_fields = ["public_id", "prompts_text"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["public_id", "created_at", "rerun_of"]

    @admin.display(description="images")
    def cells_asked(self, batch: Batch) -> int:
        return batch.cell_count


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """The price table: a new row from a date on changes what images queued from then cost, never past ones."""

    list_display = ["effective_from", "per_image", "prompt_extend_extra", "note"]
    date_hierarchy = "effective_from"


@admin.register(PersonBudget)
class PersonBudgetAdmin(admin.ModelAdmin):
    """A person's own daily and monthly budgets, in place of BUDGET_USER_DAY and BUDGET_USER_MONTH."""

    list_display = ["user", "per_day", "per_month", "note", "updated_at"]
    search_fields = ["user__username", "note"]
