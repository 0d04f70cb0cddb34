"""Signing in with the team's identity provider, end to end against a real OpenID Connect provider (oidc-provider,
started by the test run): the authorization code flow with PKCE, who may enter, roles from groups at every
sign-in, and every way a sign-in is refused."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, AuditKind, Role, role_of
from tests.factories import PASSWORD, make_user
from tests.identity_provider import IdentityProvider

pytestmark = pytest.mark.django_db

PLAYGROUND = "http://127.0.0.1"  # the loopback host the identity provider sends people back to
SIGN_IN = reverse("openid_connect_login", kwargs={"provider_id": "sso"})


@pytest.fixture
def visitor() -> Client:
    """The playground's side of a person's browser, at the address the identity provider sends people back to."""
    return Client(HTTP_HOST="127.0.0.1")


def new_user_id() -> str:
    return f"user-{secrets.token_hex(4)}"


def person(idp: IdentityProvider, *, groups: list[str], verified: bool = True, email: str = "") -> str:
    """A user at the identity provider; returns their id there."""
    user_id = new_user_id()
    idp.put_user(
        user_id,
        email=email or f"{user_id}@example.com",
        email_verified=verified,
        groups=groups,
        name="Dana Test",
        preferred_username=user_id,
    )
    return user_id


def authorize(visitor: Client, idp_browser: httpx.Client, user_id: str) -> str:
    """Press the playground's button and sign in at the identity provider; returns the callback URL it sends the
    person back to (not yet opened)."""
    start = visitor.post(SIGN_IN)
    assert start.status_code == 302, start
    answer = idp_browser.get(start["Location"])
    while answer.next_request is not None and "/interaction/" not in str(answer.next_request.url):
        answer = idp_browser.send(answer.next_request)
    assert answer.next_request is not None
    login_page = idp_browser.send(answer.next_request)
    assert login_page.status_code == 200
    answer = idp_browser.post(f"{login_page.url}/login", data={"login": user_id})
    while not str(answer.headers.get("location", "")).startswith(PLAYGROUND + "/"):
        assert answer.next_request is not None, answer.text
        answer = idp_browser.send(answer.next_request)
    return answer.headers["location"]


def sign_in(visitor: Client, idp: IdentityProvider, user_id: str):
    """The whole flow; returns the playground's answer to the callback."""
    with httpx.Client() as idp_browser:
        callback = authorize(visitor, idp_browser, user_id)
    return visitor.get(callback.removeprefix(PLAYGROUND))


def signed_in_user(visitor: Client):
    user_id = visitor.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def test_it_sends_people_to_the_identity_provider_with_pkce_and_state(visitor, sso):
    start = visitor.post(SIGN_IN)

    location = urlsplit(start["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{sso.issuer()}/auth"
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 16
    assert query["client_id"] == ["playground"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile", "groups"}


def test_it_makes_the_account_with_the_role_from_groups(visitor, sso):
    user_id = person(sso, groups=["artists", "everyone"])

    answer = sign_in(visitor, sso, user_id)

    assert answer.status_code == 302
    assert answer["Location"] == reverse("generations:home")
    user = signed_in_user(visitor)
    assert user.email == f"{user_id}@example.com"
    assert not user.has_usable_password()
    assert role_of(user) == Role.MEMBER
    assert SocialAccount.objects.get(user=user).uid == user_id
    assert AuditEvent.objects.filter(kind=AuditKind.SIGNED_IN, subject=user, detail="with Test IdP").exists()
    assert 'id="generation-form"' in visitor.get(reverse("generations:home")).text


def test_a_group_removed_at_the_identity_provider_drops_the_role_at_the_next_sign_in(visitor, sso):
    user_id = person(sso, groups=["admins"])
    sign_in(visitor, sso, user_id)
    user = signed_in_user(visitor)
    assert role_of(user) == Role.STAFF
    assert visitor.get(reverse("accounts:people")).status_code == 200

    visitor.post(reverse("logout"))
    sso.put_user(user_id, email=user.email, email_verified=True, groups=["everyone"])
    sign_in(visitor, sso, user_id)

    user.refresh_from_db()
    assert signed_in_user(visitor) == user
    assert role_of(user) == Role.VIEWER
    assert visitor.get(reverse("accounts:people")).status_code == 403
    assert AuditEvent.objects.filter(
        kind=AuditKind.ROLE_CHANGED, subject=user, detail__startswith="Staff → Viewer"
    )


@pytest.mark.parametrize(
    ("face", "cause"),
    [
        ("wrong-audience", "InvalidAudienceError"),
        ("wrong-issuer", "InvalidIssuerError"),
        ("expired", "ExpiredSignatureError"),
    ],
)
def test_a_token_that_fails_verification_is_refused_with_a_clear_page(
    visitor, sso, settings, caplog, face, cause
):
    settings.OIDC_ISSUER = sso.issuer(face)
    user_id = person(sso, groups=["artists"])

    answer = sign_in(visitor, sso, user_id)

    assert answer.status_code == 403
    assert "a token for another application, from another issuer, or expired" in answer.text
    assert cause in caplog.text, "the log tells the operator which check failed"
    assert "nobody was signed in" in answer.text
    assert signed_in_user(visitor) is None
    assert not get_user_model().objects.exists()
    assert AuditEvent.objects.filter(kind=AuditKind.SIGN_IN_REFUSED).count() == 1


def test_a_replayed_callback_is_refused(visitor, sso):
    user_id = person(sso, groups=["artists"])
    with httpx.Client() as idp_browser:
        callback = authorize(visitor, idp_browser, user_id)
    assert visitor.get(callback.removeprefix(PLAYGROUND)).status_code == 302
    visitor.post(reverse("logout"))

    replayed = visitor.get(callback.removeprefix(PLAYGROUND))

    assert replayed.status_code == 400
    assert "does not match one started from this browser" in replayed.text
    assert signed_in_user(visitor) is None


def test_a_forged_state_is_refused(visitor, sso):
    user_id = person(sso, groups=["artists"])
    with httpx.Client() as idp_browser:
        callback = urlsplit(authorize(visitor, idp_browser, user_id))
    query = parse_qs(callback.query)

    forged = visitor.get(callback.path, {"code": query["code"][0], "state": "forged-state-value"})

    assert forged.status_code == 400
    assert "does not match one started from this browser" in forged.text
    assert not get_user_model().objects.exists()


def test_an_unverified_email_is_refused_where_domains_decide(visitor, sso, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    user_id = person(sso, groups=["artists"], verified=False)

    answer = sign_in(visitor, sso, user_id)

    assert answer.status_code == 403
    assert f"says your e-mail address {user_id}@example.com is not verified" in answer.text
    assert not get_user_model().objects.exists()
    refusal = AuditEvent.objects.get(kind=AuditKind.SIGN_IN_REFUSED)
    assert refusal.subject_label == f"{user_id}@example.com"
    assert refusal.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("allowed", "email", "groups", "said"),
    [
        (
            {"OIDC_ALLOWED_DOMAINS": ["example.com"]},
            "dana@elsewhere.org",
            ["artists"],
            "Only addresses at example.com",
        ),
        ({"OIDC_ALLOWED_GROUPS": ["playground"]}, "", ["artists"], "Only members of playground in Test IdP"),
    ],
)
def test_someone_the_rules_leave_out_is_told_why_and_nothing_is_made(
    visitor, sso, settings, allowed, email, groups, said
):
    for name, value in allowed.items():
        setattr(settings, name, value)
    user_id = person(sso, groups=groups, email=email)

    answer = sign_in(visitor, sso, user_id)

    assert answer.status_code == 403
    assert said in answer.text
    assert not get_user_model().objects.exists()


def test_a_verified_email_at_an_allowed_domain_opens_the_existing_local_account(visitor, sso, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    local = make_user("dana", email="dana@example.com")
    user_id = person(sso, groups=["artists"], email="dana@example.com")

    sign_in(visitor, sso, user_id)

    assert signed_in_user(visitor) == local
    assert get_user_model().objects.count() == 1
    assert SocialAccount.objects.get(uid=user_id).user == local


def test_an_unverified_email_never_opens_an_existing_account(visitor, sso):
    local = make_user("dana", email="dana@example.com")
    user_id = person(sso, groups=["artists"], email="dana@example.com", verified=False)

    sign_in(visitor, sso, user_id)

    newcomer = signed_in_user(visitor)
    assert newcomer not in (None, local)
    local.refresh_from_db()
    assert local.check_password(PASSWORD)


def test_the_break_glass_superuser_is_never_opened_by_email(visitor, sso):
    admin = get_user_model().objects.create_superuser("root", email="root@example.com", password=PASSWORD)
    user_id = person(sso, groups=["admins"], email="root@example.com")

    sign_in(visitor, sso, user_id)

    assert signed_in_user(visitor) != admin
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)


def test_a_deactivated_person_is_refused(visitor, sso):
    user_id = person(sso, groups=["artists"])
    sign_in(visitor, sso, user_id)
    user = signed_in_user(visitor)
    visitor.post(reverse("logout"))
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    answer = sign_in(visitor, sso, user_id)

    assert answer.status_code == 403
    assert "deactivated" in answer.text
    assert signed_in_user(visitor) is None


def test_signing_out_ends_the_identity_providers_session_too(visitor, sso):
    sign_in(visitor, sso, person(sso, groups=["artists"]))

    answer = visitor.post(reverse("logout"))

    assert signed_in_user(visitor) is None
    end_session = urlsplit(answer["Location"])
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == f"{sso.issuer()}/session/end"
    assert parse_qs(end_session.query) == {
        "client_id": ["playground"],
        "post_logout_redirect_uri": [f"{PLAYGROUND}/gallery/"],
    }
    assert httpx.get(answer["Location"]).status_code == 200, "the identity provider takes the request"


def test_a_password_session_signs_out_here_only(visitor, sso):
    make_user("dana")
    visitor.post(reverse("login"), {"username": "dana", "password": PASSWORD})

    answer = visitor.post(reverse("logout"))

    assert answer["Location"] == reverse("generations:gallery")


def test_the_sign_in_page_offers_the_identity_provider_first(client, sso):
    page = client.get(reverse("login")).text

    assert page.index("Sign in with Test IdP") < page.index('name="password"')
    assert "Ask a staff member for an invite link" in page
    assert "createsuperuser" not in page


def test_oidc_only_refuses_passwords_to_all_but_superusers(client, sso, settings):
    settings.OIDC_ONLY = True
    make_user("dana")
    get_user_model().objects.create_superuser("root", password=PASSWORD)

    page = client.get(reverse("login")).text
    assert 'name="password"' not in page
    assert 'name="password"' in client.get(reverse("login"), {"password": "1"}).text

    refused = client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    assert refused.status_code == 200
    assert "Passwords are turned off here: sign in with Test IdP." in refused.text
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(kind=AuditKind.SIGN_IN_REFUSED, subject_label="dana").exists()

    assert client.post(reverse("login"), {"username": "root", "password": PASSWORD}).status_code == 302


def test_oidc_only_refuses_a_password_change_to_identity_provider_accounts(visitor, sso, settings):
    settings.OIDC_ONLY = True
    sign_in(visitor, sso, person(sso, groups=["artists"]))

    for url in (reverse("password-change"), "/admin/password_change/"):
        answer = visitor.get(url)
        assert answer.status_code == 403
        assert "change your password there" in answer.text


def test_allauths_own_account_pages_are_not_served(client, sso):
    for path in ("/accounts/signup/", "/accounts/password/reset/", "/accounts/email/", "/accounts/3rdparty/"):
        assert client.get(path).status_code == 404, path
