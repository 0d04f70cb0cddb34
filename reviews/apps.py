from __future__ import annotations

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews: boards, ratings and comments"
    default_auto_field = "django.db.models.BigAutoField"
