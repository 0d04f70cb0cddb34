from __future__ import annotations

from django.urls import path

from generations import views

app_name = "generations"
urlpatterns = [
    path("", views.home, name="home"),
    path("generate/", views.generation_new, name="new"),
    path("gallery/", views.gallery, name="gallery"),
    path("usage/", views.usage, name="usage"),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("settings/tokens/revoke/", views.api_token_revoke_view, name="api-token-revoke"),
    path("compare/", views.compare, name="compare"),
    path("g/<str:public_id>/", views.generation_detail, name="detail"),
    path("g/<str:public_id>/new-seed/", views.generation_new_seed, name="new-seed"),
    path("g/<str:public_id>/favourite/", views.generation_favourite, name="favourite"),
    path("g/<str:public_id>/delete/", views.generation_delete_view, name="delete"),
    path("g/<str:public_id>/download/", views.generation_image, {"variant": "download"}, name="download"),
    path("g/<str:public_id>/card/", views.generation_card, name="card"),
    path("g/<str:public_id>/retry/", views.generation_retry_view, name="retry"),
    path("g/<str:public_id>/image/", views.generation_image, {"variant": "image"}, name="image"),
    path("g/<str:public_id>/thumbnail/", views.generation_image, {"variant": "thumbnail"}, name="thumbnail"),
]
