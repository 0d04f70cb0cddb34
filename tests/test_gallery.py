from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from generations.models import Generation, GenerationStatus
from tests.conftest import finish, make_generation
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
    assert 'hx-trigger="revealed"' in page


def test_the_next_page_continues_where_the_first_ended_without_repeats(client):
    make_generations(50)
    first = gallery(client)
    next_url = first.context["next_url"]

    second = client.get(reverse("generations:gallery") + next_url, HTTP_HX_REQUEST="true")

    names = [generation.prompt for generation in second.context["page"].generations]
    assert names == ["Picture number 48", "Picture number 49"]
    assert "<html" not in second.text, "htmx gets only the next tiles"
    assert 'class="gallery-next"' not in second.text


def test_a_new_generation_does_not_shift_the_pages_being_read(client):
    make_generations(50)
    next_url = gallery(client).context["next_url"]
    make_generation(prompt="Made while scrolling")

    second = client.get(reverse("generations:gallery") + next_url)

    assert [g.prompt for g in second.context["page"].generations] == [
        "Picture number 48",
        "Picture number 49",
    ]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "123.\x00", "99999999999999999999999.abc"])
def test_it_starts_from_the_top_for_a_mangled_cursor_or_place(client, cursor):
    make_generations(3)
    for param in ("after", "until"):
        response = gallery(client, **{param: cursor})
        assert response.status_code == 200
        assert len(response.context["page"].generations) == 3


def test_it_renders_every_loaded_page_down_to_a_readers_place_in_one_go(client):
    make_generations(150)
    first = gallery(client)
    second = client.get(reverse("generations:gallery") + first.context["next_url"], HTTP_HX_REQUEST="true")
    place = second.context["page"].end_cursor
    make_generation(prompt="Made while reading")

    restored = gallery(client, until=place)

    prompts = [generation.prompt for generation in restored.context["page"].generations]
    assert prompts == ["Made while reading", *(f"Picture number {index}" for index in range(96))]
    older = client.get(reverse("generations:gallery") + restored.context["next_url"], HTTP_HX_REQUEST="true")
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


def test_the_download_is_a_png_that_carries_its_parameters(client, demo_mode):
    generation = make_generation(prompt="Un café ☕", seed=5, prompt_extend=True)
    finish(generation)

    response = client.get(reverse("generations:download", args=[generation.public_id]))

    assert response["Content-Disposition"] == f'attachment; filename="zimage-{generation.public_id}-5.png"'
    image = Image.open(io.BytesIO(response.content))
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


def test_deleting_asks_first_then_the_link_says_it_was_deleted(client, demo_mode):
    generation = make_generation()
    finish(generation)
    generation.refresh_from_db()
    delete_url = reverse("generations:delete", args=[generation.public_id])

    assert "Delete this generation?" in client.get(delete_url).text
    assert client.post(delete_url).status_code == 302

    response = client.get(generation.get_absolute_url())
    assert response.status_code == 410
    assert "This generation was deleted" in response.text
    assert not default_storage.exists(generation.image.name)
    assert client.get(reverse("generations:image", args=[generation.public_id])).status_code == 404
    assert not gallery(client).context["page"].generations


def test_a_favourite_is_deleted_only_after_a_second_confirmation(client):
    generation = make_generation(is_favourite=True)
    delete_url = reverse("generations:delete", args=[generation.public_id])

    refused = client.post(delete_url)
    assert "tick the box to delete it anyway" in refused.text
    assert Generation.objects.live().filter(pk=generation.pk).exists()

    client.post(delete_url, {"confirm_favourite": "on"})
    assert not Generation.objects.live().filter(pk=generation.pk).exists()


def test_an_image_shared_by_two_generations_survives_deleting_one(client, demo_mode):
    first, second = make_generation(seed=3), make_generation(seed=3)
    finish(first)
    finish(second)
    first.refresh_from_db()

    client.post(reverse("generations:delete", args=[first.public_id]))

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


def test_deleted_generations_leave_the_playgrounds_latest_images(client, demo_mode):
    generation = make_generation(prompt="Soon gone")
    client.post(reverse("generations:delete", args=[generation.public_id]))
    assert "Soon gone" not in client.get(reverse("generations:home")).text
