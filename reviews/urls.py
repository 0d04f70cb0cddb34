from __future__ import annotations

from django.urls import path, register_converter

from reviews import image_views, review_views, share_views, views
from reviews.models import SHARE_TOKEN_PATTERN


class ShareTokenConverter:
    """Only what a share link's token can look like reaches a view; anything else is a plain 404."""

    regex = SHARE_TOKEN_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ShareTokenConverter, "share_token")

app_name = "reviews"
urlpatterns = [
    path("boards/", views.boards, name="boards"),
    path("boards/add/", views.board_add, name="add"),
    path("boards/<public_id:public_id>/", views.board_detail, name="board"),
    path("boards/<public_id:public_id>/remove/", views.board_remove, name="board-remove"),
    path("boards/<public_id:public_id>/move/", views.board_move, name="board-move"),
    path(
        "boards/<public_id:public_id>/status/<public_id:generation_id>/",
        views.board_review,
        name="board-status",
    ),
    path("boards/<public_id:public_id>/review/", review_views.review_mode, name="review"),
    path("boards/<public_id:public_id>/comments/", image_views.board_comments, name="board-comments"),
    path("boards/<public_id:public_id>/settings/", views.board_settings, name="board-settings"),
    path("boards/<public_id:public_id>/members/", views.board_members, name="board-members"),
    path("boards/<public_id:public_id>/links/", views.board_link_create, name="board-link-create"),
    path(
        "boards/<public_id:public_id>/links/<public_id:link_id>/",
        share_views.share_link_switch_view,
        name="board-link",
    ),
    path("boards/<public_id:public_id>/delete/", views.board_delete_view, name="board-delete"),
    path("boards/<public_id:public_id>/images.zip", views.board_images_zip, name="board-zip"),
    path("boards/<public_id:public_id>/export.csv", views.board_export_csv, name="board-csv"),
    path("boards/<public_id:public_id>/preview.png", views.board_preview, name="board-preview"),
    path("gallery/export.csv", views.gallery_export_csv, name="gallery-csv"),
    path("reviews/g/<public_id:public_id>/", image_views.image_panel, name="image-panel"),
    path("reviews/g/<public_id:public_id>/rating/", image_views.image_rate, name="image-rate"),
    path("reviews/g/<public_id:public_id>/comments/", image_views.image_comment, name="image-comment"),
    path("reviews/c/<public_id:comment_id>/edit/", image_views.comment_edit_view, name="comment-edit"),
    path("reviews/c/<public_id:comment_id>/delete/", image_views.comment_delete_view, name="comment-delete"),
    path("reviews/b/<public_id:public_id>/ratings.json", image_views.batch_ratings, name="batch-ratings"),
    path("inbox/", image_views.inbox_view, name="inbox"),
    path("inbox/seen/", image_views.inbox_seen, name="inbox-seen"),
    path("shared/<share_token:token>/", share_views.shared_board, name="shared"),
    path("shared/<share_token:token>/preview.png", share_views.shared_preview, name="shared-preview"),
    path("shared/<share_token:token>/comments/", share_views.shared_comment, name="shared-board-comment"),
    path(
        "shared/<share_token:token>/g/<public_id:public_id>/", share_views.shared_image, name="shared-image"
    ),
    path(
        "shared/<share_token:token>/g/<public_id:public_id>/comments/",
        share_views.shared_comment,
        name="shared-comment",
    ),
]
