from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from PIL.PngImagePlugin import PngImageFile

from generations.http import MAKER_SESSION_KEY
from generations.models import Generation, GenerationStatus
from generations.provider.client import provider_request_body
from tests.factories import finish, make_generation
from tests.query_count import count_queries

pytestmark = pytest.mark.django_db


def make_generations(count: int, **fields) -> list[Generation]:
    now = timezone.now()
    generations = [make_generation(prompt=f"Picture number {index}", **fields) for index in range(count)]
    for index, generation in enumerate(generations):
        Generation.objects.filter(pk=generation.pk).update(created_at=now - timedelta(minutes=index))
    return generations


def gallery(client, **params):
    return client.get(reverse("generations:gallery"), params)


def test_the_gallery_shows_the_newest_first_and_links_to_the_next_page(client, settings):
    make_generations(50)

    page = gallery(client).text

    assert page.index("Picture number 0<") < page.index("Picture number 1<")
    assert "Picture number 47<" in page
    assert "Picture number 48<" not in page
    assert 'class="gallery-next"' in page
    assert 'hx-trigger="revealed, gallery-more"' in page


def test_the_next_page_continues_where_the_first_ended_without_repeats(client):
    make_generations(50)
    first = gallery(client)
    next_url = first.context["next_url"]

    second = client.get(next_url, HTTP_HX_REQUEST="true")

    names = [generation.prompt for generation in second.context["page"].generations]
    assert names == ["Picture number 48", "Picture number 49"]
    assert "<html" not in second.text, "htmx gets only the next tiles"
    assert 'class="gallery-next"' not in second.text


def test_a_new_generation_does_not_shift_the_pages_being_read(client):
    make_generations(50)
    next_url = gallery(client).context["next_url"]
    make_generation(prompt="Made while scrolling")

    second = client.get(next_url)

    assert [g.prompt for g in second.context["page"].generations] == [
        "Picture number 48",
        "Picture number 49",
    ]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "123.a/b", "99999999999999999999999.abc"])
def test_it_starts_from_the_top_for_a_mangled_cursor_or_place(client, cursor):
    make_generations(3)
    for param in ("after", "until"):
        response = gallery(client, **{param: cursor})
        assert response.status_code == 200
        assert len(response.context["page"].generations) == 3


def test_it_renders_every_loaded_page_down_to_a_readers_place_in_one_go(client):
    make_generations(150)
    first = gallery(client)
    second = client.get(first.context["next_url"], HTTP_HX_REQUEST="true")
    place = second.context["page"].end_cursor
    make_generation(prompt="Made while reading")

    restored = gallery(client, until=place)

    prompts = [generation.prompt for generation in restored.context["page"].generations]
    assert prompts == ["Made while reading", *(f"Picture number {index}" for index in range(96))]
    older = client.get(restored.context["next_url"], HTTP_HX_REQUEST="true")
    assert "until" not in restored.context["next_url"]
    assert older.context["page"].generations[0].prompt == "Picture number 96"


def test_search_finds_prompt_and_revised_prompt_words(client):
    make_generation(prompt="A lighthouse on a cliff")
    make_generation(prompt="A cat", revised_prompt="A ginger cat beside a lighthouse at dusk")
    make_generation(prompt="A bowl of soup")

    prompts = {g.prompt for g in gallery(client, q="lighthouses").context["page"].generations}

    assert prompts == {"A lighthouse on a cliff", "A cat"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"failed one"}),
        ({"status": "cancelled"}, {"cancelled one"}),
        ({"ratio": "16:9"}, {"wide one"}),
        ({"extend": "on"}, {"extended one"}),
        ({"extend": "off"}, {"wide one", "favourite one"}),
        ({"favourites": "on"}, {"favourite one"}),
        ({"status": "bogus"}, {"wide one", "extended one", "favourite one"}),
        ({"status": "all", "extend": "off"}, {"failed one", "cancelled one", "wide one", "favourite one"}),
    ],
)
def test_filters_narrow_the_gallery_and_live_in_the_query_string(client, params, expected):
    make_generation(prompt="failed one", status=GenerationStatus.FAILED)
    make_generation(prompt="cancelled one", status=GenerationStatus.CANCELLED)
    make_generation(prompt="wide one", width=1360, height=768)
    make_generation(prompt="extended one", prompt_extend=True)
    make_generation(prompt="favourite one", is_favourite=True)

    prompts = {g.prompt for g in gallery(client, **params).context["page"].generations}

    assert prompts == expected


def test_mine_shows_only_the_signed_in_users_generations(client, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    make_generation(prompt="alice's", user=alice)
    make_generation(prompt="someone else's")

    assert not gallery(client, owner="mine").context["page"].generations
    client.force_login(alice)
    assert [g.prompt for g in gallery(client, owner="mine").context["page"].generations] == ["alice's"]


@pytest.mark.parametrize("params", [{}, {"q": "picture"}, {"status": "succeeded", "favourites": "on"}])
def test_the_gallery_uses_a_constant_number_of_queries(client, params):
    make_generations(5)
    with count_queries() as few:
        gallery(client, **params)
    make_generations(45)
    with count_queries() as many:
        gallery(client, **params)
    assert few.total == many.total
    assert 1 <= many.total <= 2


def test_an_empty_gallery_says_how_to_fill_it(client):
    assert "The gallery is empty." in gallery(client).text
    make_generation()
    assert "Nothing matches these filters." in gallery(client, q="zebra").text


def test_the_detail_page_unfurls_with_the_stored_image(client, demo_mode):
    generation = make_generation(prompt="A lighthouse <at> dusk")
    finish(generation)

    page = client.get(generation.get_absolute_url()).text

    assert '<meta property="og:title" content="A lighthouse &lt;at&gt; dusk">' in page
    assert f'<meta property="og:image" content="http://testserver/g/{generation.public_id}/image/">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page


def test_copy_as_code_reproduces_the_request_without_the_key(client, settings):
    settings.ZIMAGE_API_KEY = "sk-secret-never-shown"
    generation = make_generation(prompt="It's a cat", seed=1234, prompt_extend=True, width=1360, height=768)

    page = client.get(generation.get_absolute_url()).text

    assert "sk-secret-never-shown" not in page
    assert "$ZIMAGE_API_KEY" in page
    assert (
        "extra_body={&quot;parameters&quot;: {&quot;prompt_extend&quot;: True, &quot;seed&quot;: 1234}}"
        in page
    )
    assert "It&#x27;\\&#x27;&#x27;s a cat" in page, "the shell quoting survives a quote in the prompt"
    assert "&quot;size&quot;: &quot;1360x768&quot;" in page


def test_copy_as_code_is_the_body_the_client_sent_with_the_generations_own_model(client):
    generation = make_generation(prompt="A fox", seed=7, model="z-image-turbo-2025-11")

    page = html.unescape(client.get(generation.get_absolute_url()).text)

    body = re.search(r"-d '(\{.*?\n\})'", page, re.DOTALL)
    assert body
    sent = json.loads(body[1])
    assert sent == provider_request_body(generation.parameters, model="z-image-turbo-2025-11")


def test_the_download_is_a_png_that_carries_its_parameters(client, demo_mode):
    generation = make_generation(prompt="Un café ☕", seed=5, prompt_extend=True)
    finish(generation)

    response = client.get(reverse("generations:download", args=[generation.public_id]))

    assert response["Content-Disposition"] == f'attachment; filename="zimage-{generation.public_id}-5.png"'
    image = Image.open(io.BytesIO(response.content))
    assert isinstance(image, PngImageFile)
    image.load()
    parameters = json.loads(image.text["parameters"])
    assert parameters["prompt"] == "Un café ☕"
    assert parameters["seed"] == 5
    assert parameters["size"] == "1024x1536"
    assert parameters["share_url"] == f"http://testserver/g/{generation.public_id}/"
    assert image.text["Software"] == "Z-Image Playground"


def test_favourite_toggles(client):
    generation = make_generation()
    url = reverse("generations:favourite", args=[generation.public_id])

    response = client.post(url, {"favourite": "on"}, HTTP_HX_REQUEST="true")
    generation.refresh_from_db()
    assert generation.is_favourite
    assert "★ Favourite" in response.text

    client.post(url, {"favourite": "off"})
    generation.refresh_from_db()
    assert not generation.is_favourite


def test_same_prompt_new_seed_starts_a_new_generation(client, demo_mode):
    original = make_generation(seed=1)
    response = client.post(reverse("generations:new-seed", args=[original.public_id]))
    new = Generation.objects.exclude(pk=original.pk).get()
    assert response.url == new.get_absolute_url()
    assert new.prompt == original.prompt


def test_deleting_asks_first_then_the_link_says_it_was_deleted(admin_client, demo_mode):
    generation = make_generation()
    finish(generation)
    generation.refresh_from_db()
    assert generation.image.name
    delete_url = reverse("generations:delete", args=[generation.public_id])

    assert "Delete this generation?" in admin_client.get(delete_url).text
    assert admin_client.post(delete_url).status_code == 302

    response = admin_client.get(generation.get_absolute_url())
    assert response.status_code == 410
    assert "This generation was deleted" in response.text
    assert not default_storage.exists(generation.image.name)
    assert admin_client.get(reverse("generations:image", args=[generation.public_id])).status_code == 404
    assert not gallery(admin_client).context["page"].generations


def test_a_favourite_is_deleted_only_after_a_second_confirmation(admin_client):
    generation = make_generation(is_favourite=True)
    delete_url = reverse("generations:delete", args=[generation.public_id])

    refused = admin_client.post(delete_url)
    assert "tick the box to delete it anyway" in refused.text
    assert Generation.objects.live().filter(pk=generation.pk).exists()

    admin_client.post(delete_url, {"confirm_favourite": "on"})
    assert not Generation.objects.live().filter(pk=generation.pk).exists()


def test_an_image_shared_by_two_generations_survives_deleting_one(admin_client, demo_mode):
    first, second = make_generation(seed=3), make_generation(seed=3)
    finish(first)
    finish(second)
    first.refresh_from_db()
    assert first.image.name

    admin_client.post(reverse("generations:delete", args=[first.public_id]))

    assert default_storage.exists(first.image.name)


def test_compare_highlights_the_parameters_that_differ(client):
    a = make_generation(prompt="A fox", seed=1)
    b = make_generation(prompt="A fox", seed=2)

    response = client.get(reverse("generations:compare"), {"id": [a.public_id, b.public_id]})

    rows = {label: differs for label, _values, differs in response.context["rows"]}
    assert rows["Seed"] is True
    assert rows["Prompt"] is False
    assert response.text.count('class="differs"') == 1


def test_compare_with_fewer_than_two_explains_how_to_pick(client):
    response = client.get(reverse("generations:compare"))
    assert "Pick 2 to 4 images" in response.text


def test_the_detail_page_says_who_made_it_and_when(client, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    generation = make_generation(user=alice)

    page = client.get(generation.get_absolute_url()).text

    assert "<dt>By</dt><dd>alice</dd>" in page
    assert f'datetime="{generation.created_at.isoformat()}"' in page


def test_deleted_generations_leave_the_playgrounds_latest_images(admin_client, demo_mode):
    generation = make_generation(prompt="Soon gone")
    admin_client.post(reverse("generations:delete", args=[generation.public_id]))
    assert "Soon gone" not in admin_client.get(reverse("generations:home")).text


def select(client, operation, generations, *, method="post", htmx=False, headers=None, **fields):
    """Ask the gallery's selection endpoint to do `operation` to `generations`, as its forms do."""
    data = {"operation": operation, "id": [generation.public_id for generation in generations], **fields}
    headers = ({"HX-Request": "true"} if htmx else {}) | (headers or {})
    return getattr(client, method)(reverse("generations:gallery-selection"), data, headers=headers)


def test_it_favourites_several_tiles_at_once_and_gives_htmx_the_changed_tiles(client):
    picked = make_generations(3)
    other = make_generation(prompt="Not picked")

    response = select(client, "favourite", picked[:2], htmx=True)

    assert set(Generation.objects.filter(is_favourite=True).values_list("prompt", flat=True)) == {
        "Picture number 0",
        "Picture number 1",
    }
    for generation in picked[:2]:
        assert f'id="generation-{generation.public_id}"' in response.text
    assert response.text.count('hx-swap-oob="true"') == 3, "two tiles and the status line"
    assert "2 images added to favourites." in response.text
    assert other.public_id not in response.text


def test_it_unfavourites_and_goes_back_to_the_gallery_page_it_came_from_without_javascript(client):
    picked = make_generations(2, is_favourite=True)

    response = select(
        client, "unfavourite", picked, headers={"Referer": "http://testserver/gallery/?q=picture"}
    )

    assert response.status_code == 302
    assert response.url == "http://testserver/gallery/?q=picture"
    assert not Generation.objects.filter(is_favourite=True).exists()


def test_it_asks_before_changing_anything_when_asked_by_a_plain_link(client):
    picked = make_generations(2)

    response = select(client, "favourite", picked, method="get")

    assert "Add 2 images to favourites?" in response.text
    assert not Generation.objects.filter(is_favourite=True).exists()


@pytest.mark.parametrize("ids", [[], ["not/an/id"], [f"id{index}" for index in range(101)]])
def test_it_refuses_a_selection_it_cannot_act_on(client, ids):
    response = client.post(reverse("generations:gallery-selection"), {"operation": "favourite", "id": ids})
    assert response.status_code == 400
    assert "Nothing to do" in response.text


def test_it_deletes_only_the_picked_images_the_reader_may_delete(client, django_user_model, settings):
    settings.REQUIRE_LOGIN = True
    alice, bob = django_user_model.objects.create_user("alice"), django_user_model.objects.create_user("bob")
    mine = [make_generation(prompt=f"alice's {index}", user=alice) for index in range(2)]
    theirs = make_generation(prompt="bob's", user=bob)
    client.force_login(alice)

    asked = select(client, "delete", [*mine, theirs], htmx=True)
    assert "Delete 2 images?" in asked.text
    assert "1 of the images you picked is not yours" in asked.text
    assert Generation.objects.live().count() == 3

    done = select(client, "delete", [*mine, theirs], htmx=True, confirmed="1")

    assert set(Generation.objects.live().values_list("prompt", flat=True)) == {"bob's"}
    assert done.text.count('hx-swap-oob="delete"') == 2
    assert "gallery-selection-done" in done.headers["HX-Trigger"]


def test_it_asks_twice_before_deleting_favourites_in_bulk(client, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    picked = [
        make_generation(prompt="plain", user=alice),
        make_generation(prompt="loved", is_favourite=True, user=alice),
    ]
    client.force_login(alice)

    refused = select(client, "delete", picked, confirmed="1")
    assert "tick the box to delete them anyway" in refused.text
    assert Generation.objects.live().count() == 2

    done = select(client, "delete", picked, confirmed="1", confirm_favourites="on")
    assert done.status_code == 302
    assert not Generation.objects.live().exists()


def test_it_asks_for_sign_in_before_changing_several_tiles_when_sign_in_is_required(client, settings):
    settings.REQUIRE_LOGIN = True
    picked = make_generations(1)

    response = select(client, "favourite", picked)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Generation.objects.filter(is_favourite=True).exists()


def test_a_live_tile_refreshes_itself_until_its_image_lands(client, demo_mode):
    generation = make_generation(prompt="Coming soon")
    tile_url = reverse("generations:tile", args=[generation.public_id])

    waiting = client.get(tile_url).text
    assert f'data-live-card="{generation.public_id}"' in waiting
    assert f'hx-get="{tile_url}"' in waiting

    finish(generation)
    landed = client.get(tile_url).text
    assert "data-live-card" not in landed
    assert f'src="{generation.thumbnail_url}"' in landed
    assert f'data-image="{generation.image_url}"' in landed


def test_a_filter_change_gets_only_the_results_back(client):
    make_generations(2)

    response = client.get(
        reverse("generations:gallery"),
        {"q": "picture"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gallery-results",
    )

    assert response.text.lstrip().startswith('<div id="gallery-results">')
    assert "Picture number 1" in response.text
    assert "gallery-filters" not in response.text


def test_on_an_open_instance_a_browser_deletes_in_bulk_only_what_it_made(client, settings):
    settings.REQUIRE_LOGIN = False
    session = client.session
    session[MAKER_SESSION_KEY] = "this-browser"
    session.save()
    made_here = make_generation(prompt="made here", maker_session="this-browser")
    made_elsewhere = make_generation(prompt="made elsewhere", maker_session="another-browser")

    select(client, "delete", [made_here, made_elsewhere], confirmed="1")

    assert set(Generation.objects.live().values_list("prompt", flat=True)) == {"made elsewhere"}
