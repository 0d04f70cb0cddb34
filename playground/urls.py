from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from generations import api, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    # Signing in and out only: resetting a password needs e-mail, which the playground does not send; accounts
    # and passwords are managed in the admin.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("metrics", metrics.metrics, name="metrics"),
    path("v1/models", api.models, name="api-models"),
    path("v1/images/generations", api.image_generations, name="api-image-generations"),
    path("", include("generations.urls")),
    path("", include("reviews.urls")),
]

handler400 = "playground.errors.bad_request"
handler404 = "playground.errors.not_found"
handler500 = "playground.errors.server_error"
