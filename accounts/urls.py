from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("people/", views.people, name="people"),
    path("people/role/", views.person_role, name="person-role"),
    path("people/active/", views.person_active, name="person-active"),
    path("people/invites/", views.invite_new, name="invite-new"),
    path("people/invites/revoke/", views.invite_revoke_view, name="invite-revoke"),
    path("people/audit/", views.audit, name="audit"),
    path("invite/<str:token>/", views.invite_accept_view, name="invite-accept"),
]
