from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from generations import api, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("v1/models", api.models, name="api-models"),
    path("v1/images/generations", api.image_generations, name="api-image-generations"),
    path("", include("generations.urls")),
]
