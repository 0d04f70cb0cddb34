from __future__ import annotations

from django.urls import path, register_converter

from generations import batch_views, gallery_views, views
from generations.models import PUBLIC_ID_PATTERN


class PublicIdConverter:
    """Only what a public id can look like reaches a view; anything else is a plain 404."""

    regex = PUBLIC_ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PublicIdConverter, "public_id")

app_name = "generations"
urlpatterns = [
    path("", views.home, name="home"),
    path("generate/", views.generation_new, name="new"),
    path("gallery/", gallery_views.gallery, name="gallery"),
    path("gallery/selection/", gallery_views.gallery_selection, name="gallery-selection"),
    path("usage/", views.usage, name="usage"),
    path("usage/usage.csv", views.usage_csv, name="usage-csv"),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("settings/tokens/revoke/", views.api_token_revoke_view, name="api-token-revoke"),
    path("compare/", gallery_views.compare, name="compare"),
    path("events/", views.generation_stream, name="events"),
    path("batch/", batch_views.batch_new, name="batch-new"),
    path("batch/preview/", batch_views.batch_preview, name="batch-preview"),
    path("b/<public_id:public_id>/", batch_views.batch_detail, name="batch"),
    path("b/<public_id:public_id>/progress/", batch_views.batch_progress_view, name="batch-progress"),
    path("b/<public_id:public_id>/cancel/", batch_views.batch_cancel_view, name="batch-cancel"),
    path(
        "b/<public_id:public_id>/retry-failed/",
        batch_views.batch_retry_failed_view,
        name="batch-retry-failed",
    ),
    path("b/<public_id:public_id>/run-again/", batch_views.batch_run_again_view, name="batch-run-again"),
    path("b/<public_id:public_id>/grid.png", batch_views.batch_grid_image, name="batch-grid-image"),
    path("b/<public_id:public_id>/images.zip", batch_views.batch_images_zip, name="batch-zip"),
    path(
        "b/<public_id:public_id>/compare/<public_id:other_id>/",
        batch_views.batch_compare,
        name="batch-compare",
    ),
    path("g/<public_id:public_id>/cell/", batch_views.batch_cell, name="batch-cell"),
    path("g/<public_id:public_id>/", views.generation_detail, name="detail"),
    path("g/<public_id:public_id>/new-seed/", views.generation_new_seed, name="new-seed"),
    path("g/<public_id:public_id>/favourite/", views.generation_favourite, name="favourite"),
    path("g/<public_id:public_id>/delete/", views.generation_delete_view, name="delete"),
    path("g/<public_id:public_id>/download/", views.generation_download, name="download"),
    path("g/<public_id:public_id>/card/", views.generation_card, name="card"),
    path("g/<public_id:public_id>/panel/", views.generation_panel, name="panel"),
    path("g/<public_id:public_id>/actions/", views.generation_actions, name="actions"),
    path("g/<public_id:public_id>/tile/", gallery_views.generation_tile, name="tile"),
    path("g/<public_id:public_id>/retry/", views.generation_retry_view, name="retry"),
    path("g/<public_id:public_id>/cancel/", views.generation_cancel_view, name="cancel"),
    path("g/<public_id:public_id>/image/", views.generation_image, name="image"),
    path("g/<public_id:public_id>/thumbnail/", views.generation_thumbnail_image, name="thumbnail"),
    path(
        "g/<public_id:public_id>/thumbnail/2x/",
        views.generation_thumbnail_image,
        {"larger": True},
        name="thumbnail-2x",
    ),
]
