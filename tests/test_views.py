from __future__ import annotations

import io
import zlib

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from generations.images import image_store
from generations.models import Generation, GenerationStatus
from tests.factories import finish, form_data, make_generation
from tests.fake_provider import draw_image

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def post_generation(client, *, htmx: bool = True, **fields):
    data = form_data(**fields)
    return client.post(reverse("generations:new"), data, **(HTMX if htmx else {}))


def test_the_home_page_says_plainly_when_it_runs_the_offline_demo(client, demo_mode):
    response = client.get(reverse("generations:home"))
    assert response.status_code == 200
    assert "Offline demo mode" in response.text
    assert "not by Z-Image Turbo" in response.text


def test_the_home_page_names_the_real_model_and_never_shows_the_key(client, settings):
    settings.ZIMAGE_API_KEY = "sk-very-secret-key"
    response = client.get(reverse("generations:home"))
    assert "Offline demo mode" not in response.text
    assert "z-image-turbo" in response.text
    assert "sk-very-secret-key" not in response.text


def test_the_home_page_has_a_helpful_empty_state(client, demo_mode):
    response = client.get(reverse("generations:home"))
    assert "No images yet." in response.text


def test_it_offers_the_presets_grouped_by_aspect_ratio_with_portrait_preselected(client, demo_mode):
    response = client.get(reverse("generations:home"))
    assert '<optgroup label="16:9">' in response.text
    assert '<option value="1024x1536" selected>' in response.text


def test_a_valid_prompt_becomes_a_queued_card_on_top_of_the_results(client, demo_mode):
    response = post_generation(client, prompt="A red bicycle", seed="123", prompt_extend="on")

    generation = Generation.objects.get()
    assert (generation.prompt, generation.seed, generation.prompt_extend) == ("A red bicycle", 123, True)
    assert generation.status == GenerationStatus.QUEUED
    assert "Starting…" in response.text, "the provider had a free turn: its job is queued for a worker"
    assert 'hx-swap-oob="afterbegin:#results"' in response.text
    assert f'hx-get="/g/{generation.public_id}/card/"' in response.text
    assert response["HX-Reswap"] == "none", "the form stays as typed, ready for the next tweak"
    assert 'id="generation-form"' not in response.text


def test_without_javascript_a_valid_prompt_redirects_home(client, demo_mode):
    response = post_generation(client, htmx=False)
    assert response.status_code == 302
    assert Generation.objects.count() == 1


@pytest.mark.parametrize("htmx", [True, False])
def test_bad_input_is_explained_and_nothing_is_recorded(client, demo_mode, htmx):
    response = post_generation(client, htmx=htmx, prompt="", size="custom", custom_size="100x100", seed="-5")

    assert response.status_code == (200 if htmx else 400)
    assert "Describe the image you want." in response.text
    assert "the model accepts 262,144 to 4,194,304" in response.text
    assert "The seed is a whole number from 0 to 2147483647." in response.text
    assert Generation.objects.count() == 0


def test_an_unfinished_card_follows_live_updates_and_polls_and_a_finished_card_stops(client, demo_mode):
    generation = make_generation()
    card_url = reverse("generations:card", args=[generation.public_id])
    queued = client.get(card_url).text
    assert 'hx-trigger="generation-changed, every 3s"' in queued
    assert f'data-live-card="{generation.public_id}"' in queued

    finish(generation)

    finished = client.get(card_url).text
    assert "hx-trigger" not in finished
    assert "data-live-card" not in finished
    assert f"/g/{generation.public_id}/thumbnail/" in finished


def test_a_queued_card_says_how_many_are_ahead_and_a_running_one_how_long_it_runs(client):
    make_generation()
    make_generation()
    queued = make_generation()
    running = make_generation(status=GenerationStatus.RUNNING, started_at=timezone.now())

    assert "Queued (2 ahead of you)" in client.get(reverse("generations:card", args=[queued.public_id])).text
    running_card = client.get(reverse("generations:card", args=[running.public_id])).text
    assert "Generating…" in running_card
    assert "data-elapsed-ms=" in running_card


def test_cancel_closes_a_queued_card_and_says_nothing_was_billed(client, demo_mode):
    post_generation(client)
    generation = Generation.objects.get()

    card = client.post(reverse("generations:cancel", args=[generation.public_id]), **HTMX).text

    assert "Cancelled." in card
    assert "nothing was billed" in card
    assert f'action="/g/{generation.public_id}/retry/"' in card


def test_a_failed_card_gives_the_reason_and_a_retry_button(client):
    generation = make_generation(
        status=GenerationStatus.FAILED,
        error_code="provider_unavailable",
        error_message="The image provider is having trouble right now. Retry in a minute.",
    )
    card = client.get(reverse("generations:card", args=[generation.public_id])).text
    assert "having trouble right now" in card
    assert f'action="/g/{generation.public_id}/retry/"' in card


@pytest.mark.parametrize(
    ("status", "code", "offers_retry"),
    [
        (GenerationStatus.FAILED, "provider_unavailable", True),
        (GenerationStatus.FAILED, "provider_timeout", True),
        (GenerationStatus.FAILED, "provider_rate_limited", True),
        (GenerationStatus.INTERRUPTED, "interrupted", True),
        (GenerationStatus.CANCELLED, "cancelled", True),
        (GenerationStatus.FAILED, "provider_rejected", False),
        (GenerationStatus.FAILED, "provider_auth", False),
        (GenerationStatus.FAILED, "image_too_large", False),
    ],
)
def test_a_closed_card_offers_retry_only_where_a_retry_can_help(client, status, code, offers_retry):
    generation = make_generation(status=status, error_code=code, error_message="What happened.")

    for url in (reverse("generations:card", args=[generation.public_id]), generation.get_absolute_url()):
        page = client.get(url).text
        assert "What happened." in page
        assert (f'action="/g/{generation.public_id}/retry/"' in page) is offers_retry


def test_the_share_page_has_the_prompt_as_its_heading_and_its_actions_in_the_card(
    client, demo_mode, django_user_model
):
    maker = django_user_model.objects.create_user("maker")
    client.force_login(maker)
    generation = finish(make_generation(prompt="A lighthouse at dusk", user=maker))

    page = client.get(generation.get_absolute_url()).text

    assert '<h1 class="prompt">A lighthouse at dusk</h1>' in page
    card = page[page.index('<article id="generation-') : page.index("</article>")]
    for action in (
        "Copy link",
        "Use settings",
        "Download",
        "Favourite",
        "New seed",
        "Delete…",
    ):
        assert action in card


def test_a_live_large_card_keeps_its_delete_link_only_for_who_may_delete(client, settings, django_user_model):
    settings.REQUIRE_LOGIN = True
    maker, colleague = (
        django_user_model.objects.create_user("maker"),
        django_user_model.objects.create_user("other"),
    )
    generation = make_generation(user=maker)
    card_url = reverse("generations:card", args=[generation.public_id]) + "?large=1"

    client.force_login(maker)
    assert "Delete…" in client.get(card_url).text
    client.force_login(colleague)
    assert "Delete…" not in client.get(card_url).text


def test_a_new_card_comes_with_an_event_that_names_it(client, demo_mode):
    response = post_generation(client)

    generation = Generation.objects.get()
    assert (
        response.headers["HX-Trigger-After-Settle"]
        == f'{{"generation-queued": {{"id": "{generation.public_id}"}}}}'
    )


def test_compare_says_which_picks_it_left_out_past_four(client, demo_mode):
    generations = [make_generation(seed=seed) for seed in range(6)]

    page = client.get(reverse("generations:compare"), {"id": [g.public_id for g in generations]}).text

    assert "You picked 6 images; Compare shows 4 at most, so the last 2 you picked are left out." in " ".join(
        page.split()
    )
    assert page.count('class="compare-media"') == 4


def test_retry_starts_a_new_generation_with_the_same_settings(client, demo_mode):
    failed = make_generation(status=GenerationStatus.FAILED, seed=99)

    response = client.post(
        reverse("generations:retry", args=[failed.public_id]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
    )

    retried = Generation.objects.exclude(pk=failed.pk).get()
    assert retried.seed == 99
    assert f'id="generation-{retried.public_id}"' in response.text


def test_provider_text_is_escaped_everywhere(client, use_fake_provider):
    generation = make_generation(prompt="<b>A cat</b> [fault:unsafe-text]", prompt_extend=True)
    finish(generation)
    generation.refresh_from_db()
    assert "<script>" in generation.revised_prompt

    for url in (generation.get_absolute_url(), reverse("generations:home")):
        page = client.get(url).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>A cat</b>" not in page
        assert "&lt;script&gt;alert" in page


def test_the_detail_page_shows_the_full_image_and_how_to_reproduce_it(client, demo_mode):
    generation = make_generation(seed=314159, prompt_extend=True)
    finish(generation)

    page = client.get(generation.get_absolute_url()).text

    assert f"/g/{generation.public_id}/image/ 1024w" in page, "the original among the image's sources"
    assert "314159" in page
    assert "1024×1536" in page
    assert f"/?from={generation.public_id}" in page


def test_use_these_settings_prefills_the_form(client, demo_mode):
    source = make_generation(prompt="A windmill", seed=77, width=1200, height=900, prompt_extend=True)

    page = client.get(reverse("generations:home"), {"from": source.public_id}).text

    assert "A windmill</textarea>" in page
    assert 'value="77"' in page
    assert 'value="1200x900"' in page
    assert '<option value="custom" selected>' in page


def test_stored_images_are_served_with_long_cache_headers(client, demo_mode):
    generation = make_generation()
    finish(generation)

    for name, content_type in (
        ("image", "image/png"),
        ("thumbnail", "image/webp"),
        ("thumbnail-2x", "image/webp"),
    ):
        response = client.get(reverse(f"generations:{name}", args=[generation.public_id]))
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert "immutable" in response["Cache-Control"]
        assert "max-age=31536000" in response["Cache-Control"]
        assert response.content


def test_the_two_thumbnails_have_twice_the_pixels_across_and_pages_offer_both_with_the_original(
    client, demo_mode
):
    generation = finish(make_generation(width=1024, height=1536))

    sides = [
        Image.open(io.BytesIO(client.get(reverse(name, args=[generation.public_id])).content)).size
        for name in ("generations:thumbnail", "generations:thumbnail-2x")
    ]
    page = client.get(generation.get_absolute_url()).text

    assert sides == [(341, 512), (683, 1024)]
    assert (
        f"/g/{generation.public_id}/thumbnail/ 341w, /g/{generation.public_id}/thumbnail/2x/ 683w, "
        f"/g/{generation.public_id}/image/ 1024w"
    ) in page


def test_a_pending_generation_has_no_image_yet(client):
    generation = make_generation()
    assert client.get(reverse("generations:image", args=[generation.public_id])).status_code == 404


def test_an_unknown_page_gets_the_sites_own_404(client, demo_mode):
    response = client.get("/g/not-a-real-id/")
    assert response.status_code == 404
    assert "Share links look like" in response.text


def test_an_image_whose_pixels_cannot_be_decoded_has_no_thumbnail_rather_than_an_error(client):
    png = draw_image("A lighthouse", 1, 640, 640)
    idat = png.index(b"IDAT")
    length = int.from_bytes(png[idat - 4 : idat])
    garbled = bytes(length)  # zlib cannot inflate zeros, yet the chunk checksum below is right
    chunk = garbled + zlib.crc32(b"IDAT" + garbled).to_bytes(4)
    broken = png[: idat + 4] + chunk + png[idat + 4 + length + 4 :]
    stored = image_store(broken)
    generation = make_generation(
        status=GenerationStatus.SUCCEEDED,
        image=stored.name,
        image_sha256=stored.sha256,
        image_bytes=len(broken),
    )

    response = client.get(reverse("generations:thumbnail", args=[generation.public_id]))

    assert response.status_code == 404
