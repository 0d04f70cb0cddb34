from __future__ import annotations

from django.urls import path, register_converter

from judging import views


class TokenConverter:
    """Only what a public id or token can look like reaches a view; anything else is a plain 404."""

    regex = r"[A-Za-z0-9_-]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "token")

app_name = "judging"
urlpatterns = [
    path("judging/", views.round_list, name="rounds"),
    path("judging/new/", views.round_new, name="new"),
    path("r/<token:public_id>/", views.round_detail, name="round"),
    path("r/<token:public_id>/vote/", views.round_vote, name="vote"),
    path("r/<token:public_id>/guest-links/", views.guest_link_new, name="guest-link-new"),
    path(
        "r/<token:public_id>/guest-links/<token:token>/revoke/",
        views.guest_link_revoke_view,
        name="guest-link-revoke",
    ),
    path("r/<token:public_id>/votes.csv", views.round_votes_csv, name="votes-csv"),
    path("r/<token:public_id>/leaderboard.csv", views.round_leaderboard_csv, name="leaderboard-csv"),
    path("j/<token:token>/", views.guest_vote, name="guest"),
    path("vote/<token:token>/", views.ballot_vote_view, name="ballot-vote"),
    path("vote/image/<token:token>/", views.round_image, name="image"),
]
