"""Hardening: deleted means deleted, the provider's URL stays private, HEAD, the access log, the sign-in pages and
their throttle, who may delete on an open instance, and every middleware able to run async views."""

from __future__ import annotations

import logging
import runpy
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgiref.sync import iscoroutinefunction
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIHandler
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from generations.models import Generation
from tests.conftest import free_port
from tests.factories import FORM, finish, make_generation
from tests.production import csrf_token

PASSWORD = "correct horse battery"
GATEWAY_URL = "https://gateway-user:gateway-secret@gateway.example:8443/v1"


@pytest.fixture
def deleted(demo_mode) -> Generation:
    generation = make_generation(prompt="A prompt that was deleted", seed=31337)
    finish(generation)
    Generation.objects.filter(pk=generation.pk).update(deleted_at=timezone.now())
    return generation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("post", "generations:retry"),
        ("post", "generations:new-seed"),
        ("post", "generations:cancel"),
        ("post", "generations:favourite"),
        ("get", "generations:card"),
        ("get", "generations:download"),
        ("get", "generations:image"),
        ("get", "generations:thumbnail"),
    ],
)
def test_a_deleted_generation_is_gone_for_every_action(admin_client, deleted, method, route):
    response = getattr(admin_client, method)(reverse(route, args=[deleted.public_id]))

    assert response.status_code == 404
    assert Generation.objects.count() == 1, "nothing new was made from it"


@pytest.mark.django_db
def test_use_settings_and_compare_know_nothing_of_a_deleted_generation(client, deleted):
    live = make_generation(prompt="A live one")

    home = client.get(reverse("generations:home"), {"from": deleted.public_id}).text
    compare = client.get(reverse("generations:compare"), {"id": [deleted.public_id, live.public_id]})

    assert "A prompt that was deleted" not in home
    assert "31337" not in home
    assert [generation.pk for generation in compare.context["generations"]] == [live.pk]


@pytest.mark.django_db
def test_the_header_shows_the_providers_host_alone(client, settings):
    settings.ZIMAGE_API_KEY = "sk-test"
    settings.ZIMAGE_BASE_URL = GATEWAY_URL

    page = client.get(reverse("generations:gallery")).text

    assert "gateway.example" in page
    assert "gateway-secret" not in page
    assert "gateway-user" not in page
    assert "8443" not in page


@pytest.mark.django_db
def test_with_sign_in_required_only_signed_in_users_see_the_providers_host(
    client, settings, django_user_model
):
    settings.ZIMAGE_API_KEY = "sk-test"
    settings.ZIMAGE_BASE_URL = GATEWAY_URL
    settings.REQUIRE_LOGIN = True
    generation = make_generation()

    anonymous = [
        client.get(url).text for url in (reverse("generations:gallery"), generation.get_absolute_url())
    ]
    client.force_login(django_user_model.objects.create_user("alice"))
    signed_in = client.get(reverse("generations:gallery")).text

    assert all("gateway.example" not in page for page in anonymous)
    assert "gateway.example" in signed_in


@pytest.mark.django_db
def test_copy_as_code_reads_a_gateways_url_from_the_environment(client, settings):
    settings.ZIMAGE_API_KEY = "sk-test"
    settings.ZIMAGE_BASE_URL = GATEWAY_URL

    page = client.get(make_generation().get_absolute_url()).text

    assert "gateway-secret" not in page
    assert "https://gateway" not in page, "the header may name the host, the code never the URL"
    assert "curl &quot;$ZIMAGE_BASE_URL/images/generations&quot;" in page
    assert "OpenAI(base_url=os.environ[&quot;ZIMAGE_BASE_URL&quot;]" in page
    assert "baseURL: process.env.ZIMAGE_BASE_URL" in page


@pytest.mark.django_db
def test_copy_as_code_spells_out_the_public_endpoint(client, settings):
    settings.ZIMAGE_API_KEY = "sk-test"
    settings.ZIMAGE_BASE_URL = settings.ZIMAGE_PUBLIC_BASE_URL

    page = client.get(make_generation().get_absolute_url()).text

    assert f"curl {settings.ZIMAGE_PUBLIC_BASE_URL}/images/generations" in page
    assert "$ZIMAGE_BASE_URL" not in page


@pytest.mark.django_db(transaction=True)
def test_head_is_answered_like_get_without_a_body_on_pages_images_and_share_links(asgi_server, demo_mode):
    generation = make_generation()
    finish(generation)
    urls = [
        reverse("generations:home"),
        reverse("generations:gallery"),
        reverse("generations:usage"),
        reverse("generations:compare"),
        generation.get_absolute_url(),
        reverse("generations:card", args=[generation.public_id]),
        reverse("generations:image", args=[generation.public_id]),
        reverse("generations:thumbnail", args=[generation.public_id]),
        reverse("generations:download", args=[generation.public_id]),
    ]
    with httpx.Client(base_url=asgi_server) as http:
        for url in urls:
            got, head = http.get(url), http.head(url)

            assert (url, head.status_code) == (url, 200)
            assert head.content == b""
            assert head.headers["content-type"] == got.headers["content-type"]


@pytest.fixture
def access_log(caplog):
    """uvicorn's access log, filtered the way gunicorn.conf.py sets it up in each worker."""
    access_logger = logging.getLogger("uvicorn.access")
    filters_before = list(access_logger.filters)
    runpy.run_path(str(Path(django_settings.BASE_DIR) / "gunicorn.conf.py"))["post_worker_init"](None)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    yield caplog
    access_logger.filters[:] = filters_before


@pytest.mark.django_db(transaction=True)
def test_the_access_log_never_records_a_query_string(access_log):
    server = uvicorn.Server(
        uvicorn.Config(ASGIHandler(), host="127.0.0.1", port=free_port(), log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            threading.Event().wait(0.01)
        base_url = f"http://127.0.0.1:{server.config.port}"
        httpx.get(f"{base_url}/v1/models?api_key=sk-pasted-into-a-url")
        httpx.get(f"{base_url}/gallery/?q=private+words")
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    lines = [record.getMessage() for record in access_log.records if record.name == "uvicorn.access"]
    assert any('"GET /v1/models HTTP/1.1" 401' in line for line in lines)
    assert any('"GET /gallery/ HTTP/1.1" 200' in line for line in lines)
    assert "sk-pasted-into-a-url" not in access_log.text
    assert "private" not in access_log.text


@pytest.mark.django_db
def test_only_signing_in_and_out_are_mounted(client):
    for name in ("password_reset", "password_reset_confirm", "password_change"):
        with pytest.raises(NoReverseMatch):
            reverse(name)
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.get(reverse("login")).status_code == 200


@pytest.mark.django_db
def test_on_an_open_instance_only_the_session_that_made_a_generation_may_delete_it(client, demo_mode):
    client.post(reverse("generations:new"), FORM)
    generation = Generation.objects.get()
    delete_url = reverse("generations:delete", args=[generation.public_id])
    stranger = Client()

    assert "Delete…" not in stranger.get(generation.get_absolute_url()).text
    assert stranger.post(delete_url).status_code == 403
    assert "Delete…" in client.get(generation.get_absolute_url()).text
    assert client.post(delete_url).status_code == 302
    assert Generation.objects.get().is_deleted


@pytest.mark.django_db
def test_staff_may_delete_what_an_anonymous_session_made_and_other_users_may_not(
    client, admin_client, demo_mode, django_user_model
):
    client.post(reverse("generations:new"), FORM)
    generation = Generation.objects.get()
    delete_url = reverse("generations:delete", args=[generation.public_id])
    colleague = Client()
    colleague.force_login(django_user_model.objects.create_user("bob"))

    assert colleague.post(delete_url).status_code == 403
    assert admin_client.post(delete_url).status_code == 302


@pytest.mark.django_db
def test_a_retry_belongs_to_the_session_that_asked_for_it(client, demo_mode):
    original = make_generation()
    client.post(reverse("generations:retry", args=[original.public_id]))
    retried = Generation.objects.exclude(pk=original.pk).get()

    assert retried.maker_session != ""
    assert client.post(reverse("generations:delete", args=[retried.public_id])).status_code == 302
    assert client.post(reverse("generations:delete", args=[original.public_id])).status_code == 403


def test_every_middleware_can_run_async_views_without_a_thread():
    for dotted_path in django_settings.MIDDLEWARE:
        middleware = import_string(dotted_path)
        assert getattr(middleware, "async_capable", False), f"{dotted_path} is not async-capable"
        assert getattr(middleware, "sync_capable", True), f"{dotted_path} is not sync-capable"
        instance = middleware(_async_view)
        assert iscoroutinefunction(instance), f"{dotted_path} runs async views in a thread"


async def _async_view(request):
    raise AssertionError("never called")


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD)


def sign_in(http: httpx.Client, password: str) -> httpx.Response:
    form = {
        "username": "alice",
        "password": password,
        "csrfmiddlewaretoken": csrf_token(http, "/accounts/login/"),
    }
    return http.post("/accounts/login/", data=form)


@pytest.mark.django_db(transaction=True)
def test_sign_in_is_paused_after_repeated_wrong_passwords_for_that_user_and_address(
    asgi_server, alice, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    with httpx.Client(base_url=asgi_server) as http:
        refused = [sign_in(http, "wrong").status_code for _ in range(3)]
        paused = sign_in(http, PASSWORD)

    assert refused[:2] == [200, 200]
    assert paused.status_code == 429
    assert "signing in is paused for 15 minutes" in paused.text
    assert "<h1>Sign in</h1>" in paused.text, "the site's own sign-in page"
    assert "sessionid" not in paused.cookies
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("alice", "127.0.0.1", 4)


@pytest.mark.django_db
def test_the_pause_holds_one_username_at_one_address_only(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    elsewhere = Client(REMOTE_ADDR="10.0.0.2").post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    here = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert elsewhere.status_code == 302
    assert here.status_code == 429


@pytest.mark.django_db
def test_a_huge_username_is_counted_without_breaking_the_sign_in_page(client):
    response = client.post(reverse("login"), {"username": "u" * 10_000, "password": "wrong"})

    assert response.status_code == 200
    assert AccessAttempt.objects.get().username == "u" * 150
