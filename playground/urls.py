from __future__ import annotations

from allauth.socialaccount.providers.openid_connect import urls as openid_connect_urls
from django.contrib import admin
from django.urls import include, path

from generations import api, metrics
from playground import sign_in

urlpatterns = [
    # One page to change a password, the admin's link included (it refuses where the identity provider owns it).
    path("admin/password_change/", sign_in.password_change),
    path("admin/", admin.site.urls),
    # Signing in and out, and changing one's password. No sign-up and no password reset: the playground sends no
    # e-mail; staff invite people (/people/). Of django-allauth only the identity provider's two steps are
    # mounted (/accounts/oidc/sso/login/ and its callback), none of its account pages.
    path("accounts/login/", sign_in.SignInView.as_view(), name="login"),
    path("accounts/logout/", sign_in.sign_out, name="logout"),
    path("accounts/password/", sign_in.password_change, name="password-change"),
    path("accounts/", include(openid_connect_urls)),
    path("", include("accounts.urls")),
    path("metrics", metrics.metrics, name="metrics"),
    path("v1/models", api.models, name="api-models"),
    path("v1/models/<str:model_id>", api.model, name="api-model"),
    path("v1/images/generations", api.image_generations, name="api-image-generations"),
    path("", include("generations.urls")),
    path("", include("judging.urls")),
    path("", include("reviews.urls")),
]

handler400 = "playground.errors.bad_request"
handler403 = "playground.errors.permission_denied"
handler404 = "playground.errors.not_found"
handler500 = "playground.errors.server_error"
