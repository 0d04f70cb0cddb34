from __future__ import annotations

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews: boards, ratings and comments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # generations meets the reviews only through what is registered here (docs/design.md, "Two rooms").
        from generations.hooks import register_gallery_extra, register_generation_extra, register_image_set
        from reviews.generation_hooks import BOARD_EXTRA, GALLERY_EXTRA, board_image_set

        register_generation_extra(BOARD_EXTRA)
        register_gallery_extra(GALLERY_EXTRA)
        register_image_set("board", board_image_set)
