"""Batches: the plan a form makes, queueing all cells as one within the limits, the grid, downloads, re-runs."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from django.urls import reverse
from PIL import Image
from PIL.PngImagePlugin import PngImageFile
from procrastinate.contrib.django.models import ProcrastinateJob

from generations.batch_plan import BatchPlan, expand_alternatives
from generations.models import Batch, Generation, GenerationStatus
from generations.services.batches import batch_cancel, batch_create, batch_retry_failed, batch_run_again
from generations.services.limits import GenerationRefused
from tests.factories import finish, make_generation
from tests.fake_provider import SECOND_MODEL
from tests.query_count import count_queries

pytestmark = pytest.mark.django_db

FORM = {
    "prompts": "A {red|blue} bicycle\nA lighthouse",
    "seed_list": "1, 2",
    "sizes": ["1024x1024"],
    "extend": "off",
}


def make_batch(
    prompts=("A red bicycle", "A lighthouse"), seeds=(1, 2), sizes=("1024x1024",), extend=(False,), **kwargs
):
    plan = BatchPlan(list(prompts), list(seeds), list(sizes), list(extend))
    return batch_create(plan=plan, prompts_text="\n".join(prompts), **kwargs)


def finish_all(batch: Batch) -> None:
    for generation in batch.cells.filter(status=GenerationStatus.QUEUED):
        finish(generation)


def test_alternatives_in_braces_make_one_prompt_each():
    assert expand_alternatives("A {red|blue} car at {dawn|dusk}") == [
        "A red car at dawn",
        "A red car at dusk",
        "A blue car at dawn",
        "A blue car at dusk",
    ]
    assert expand_alternatives("No alternatives here") == ["No alternatives here"]


def test_the_form_says_what_the_batch_will_make_before_it_is_sent(client):
    data = FORM | {"prompts": "A {red|blue|green} bicycle", "seed_list": "", "seed_count": "4"}
    data |= {"sizes": ["1024x1024", "1360x768"], "extend": "both"}

    summary = client.post(reverse("generations:batch-preview"), data).text

    assert (
        "3 prompts × 4 seeds × 2 sizes × prompt extend off and on = 48 images, 24 with prompt extend"
        in summary
    )
    assert Generation.objects.count() == 0


def test_a_batch_over_the_cap_is_refused_with_the_numbers(client, settings):
    settings.BATCH_MAX_IMAGES = 5

    page = client.post(reverse("generations:batch-new"), FORM).text

    assert "3 prompts × 2 seeds × 1 size = 6 images: a batch makes at most 5 images" in page
    assert Batch.objects.count() == Generation.objects.count() == 0


def test_every_cell_is_recorded_and_queued_in_its_place(client, demo_mode):
    response = client.post(reverse("generations:batch-new"), FORM)

    batch = Batch.objects.get()
    assert response.url == batch.get_absolute_url()
    cells = list(batch.cells.order_by("cell_index"))
    assert [(cell.prompt, cell.seed) for cell in cells] == [
        ("A red bicycle", 1),
        ("A red bicycle", 2),
        ("A blue bicycle", 1),
        ("A blue bicycle", 2),
        ("A lighthouse", 1),
        ("A lighthouse", 2),
    ]
    assert {cell.status for cell in cells} == {GenerationStatus.QUEUED}
    assert ProcrastinateJob.objects.filter(id__in=[cell.job_id for cell in cells], status="todo").count() == 6


def test_a_batch_that_would_pass_a_persons_limit_is_refused_whole(django_user_model, settings, demo_mode):
    alice = django_user_model.objects.create_user("alice")
    settings.LIMIT_PER_MINUTE = 6
    make_batch(prompts=["One"], seeds=[1], user=alice)

    with pytest.raises(GenerationRefused) as refused:
        make_batch(prompts=["A", "B", "C"], seeds=[1, 2], user=alice)

    assert "limit of 6 images a minute — this batch asks for 6, room for 5" in refused.value.user_message
    assert Generation.objects.count() == 1


def test_the_grid_costs_the_same_queries_whatever_its_size(client, demo_mode):
    small = make_batch(prompts=["A"], seeds=[1, 2])
    large = make_batch(prompts=[f"Prompt {index}" for index in range(10)], seeds=list(range(10)))

    queries = []
    for batch in (small, large):
        with count_queries() as counted:
            assert client.get(batch.get_absolute_url()).status_code == 200
        queries.append(counted.total)

    assert queries[0] == queries[1]


def test_the_grid_labels_rows_and_columns_and_the_axes_can_be_swapped(client, demo_mode):
    batch = make_batch(
        prompts=["A red bicycle", "A lighthouse"], seeds=[7, 8], sizes=["1024x1024", "1360x768"]
    )

    by_default = client.get(batch.get_absolute_url()).text
    swapped = client.get(batch.get_absolute_url(), {"x": "size", "y": "seed"}).text

    assert '<th scope="col">Seed 7</th>' in by_default
    assert '<th scope="row">A lighthouse</th>' in by_default
    assert "<h2>1024×1024</h2>" in by_default, "the parameter on neither axis makes one grid per value"
    assert '<th scope="col">1360×768</th>' in swapped
    assert '<th scope="row">Seed 8</th>' in swapped


def test_cancel_stops_the_cells_not_yet_sent(use_fake_provider):
    batch = make_batch()
    first = batch.cells.order_by("cell_index").first()
    finish(first)

    assert batch_cancel(batch=batch) == 3
    finish_all(batch)

    statuses = sorted(batch.cells.values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "cancelled", "succeeded"]
    assert len(use_fake_provider.requests) == 1


def test_retrying_failed_cells_puts_new_attempts_in_their_places(client, use_fake_provider):
    batch = make_batch(prompts=["Fine", "Broken [fault:503]"], seeds=[1])
    finish_all(batch)

    assert batch_retry_failed(batch=batch) == 1

    retried = batch.cells.get(status=GenerationStatus.QUEUED)
    assert (retried.prompt, retried.cell_index) == ("Broken [fault:503]", 1)
    assert "1 of 2 done" in client.get(batch.get_absolute_url()).text, "the retry replaces the failure"


def test_the_composite_png_is_labelled_carries_the_parameters_and_is_made_once(client, demo_mode):
    batch = make_batch()
    finish_all(batch)
    url = reverse("generations:batch-grid-image", args=[batch.public_id])

    first = client.get(url, {"download": "1"})
    second = client.get(url)

    assert first["Content-Type"] == "image/png"
    assert first["Content-Disposition"].startswith("attachment;")
    image = Image.open(io.BytesIO(first.content))
    assert isinstance(image, PngImageFile)
    image.load()
    parameters = json.loads(image.text["parameters"])
    assert parameters["prompts"] == ["A red bicycle", "A lighthouse"]
    assert parameters["seeds"] == [1, 2]
    assert image.text["Description"] == "2 prompts × 2 seeds × 1 size = 4 images"
    assert second.content == first.content


@pytest.mark.django_db(transaction=True)
def test_the_zip_holds_every_original_with_its_own_parameters(asgi_server, demo_mode):
    batch = make_batch()
    finish_all(batch)

    response = httpx.get(asgi_server + reverse("generations:batch-zip", args=[batch.public_id]))

    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="zimage-batch-{batch.public_id}.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert len(archive.namelist()) == 4
    with Image.open(io.BytesIO(archive.read(archive.namelist()[0]))) as image:
        assert isinstance(image, PngImageFile)
        image.load()
        assert json.loads(image.text["parameters"])["prompt"] == "A red bicycle"


def test_running_again_makes_the_same_cells_and_the_comparison_scores_each_pair(client, use_fake_provider):
    batch = make_batch()
    finish_all(batch)
    use_fake_provider.image_variant = "a new model"
    rerun = batch_run_again(batch=batch)
    finish_all(rerun)
    unchanged = batch_run_again(batch=batch)
    use_fake_provider.image_variant = ""
    finish_all(unchanged)

    assert [(cell.prompt, cell.seed, cell.cell_index) for cell in rerun.cells.order_by("cell_index")] == [
        (cell.prompt, cell.seed, cell.cell_index) for cell in batch.cells.order_by("cell_index")
    ]
    changed = client.get(reverse("generations:batch-compare", args=[batch.public_id, rerun.public_id])).text
    same = client.get(reverse("generations:batch-compare", args=[batch.public_id, unchanged.public_id])).text
    assert "<strong>0</strong> / 64" not in changed
    assert same.count("<strong>0</strong> / 64") == 4


def test_a_batchs_share_link_opens_without_signing_in(client, settings, demo_mode):
    batch = make_batch()
    settings.REQUIRE_LOGIN = True

    assert client.get(batch.get_absolute_url()).status_code == 200
    assert client.post(reverse("generations:batch-run-again", args=[batch.public_id])).status_code == 302
    assert Batch.objects.count() == 1, "running it again needs a signed-in person"


def test_a_cells_page_links_to_its_batch_and_the_gallery_shows_a_batchs_cells(client, demo_mode):
    batch = make_batch()
    finish_all(batch)
    loner = finish(make_generation(prompt="Not in any batch"))
    cell = batch.cells.first()

    page = client.get(cell.get_absolute_url()).text
    gallery = client.get(reverse("generations:gallery"), {"batch": batch.public_id}).text

    assert f'href="{batch.get_absolute_url()}"' in page
    assert gallery.count('class="tile ') == 4
    assert loner.public_id not in gallery
    assert client.get(reverse("generations:gallery"), {"batch": "%%"}).status_code == 200


def test_without_extra_models_the_batch_form_offers_no_model(client, settings):
    settings.EXTRA_MODELS = {}

    assert 'name="models"' not in client.get(reverse("generations:batch-new")).text


def test_a_batch_may_compare_models_each_sent_its_settings_explicitly(client, settings, use_fake_provider):
    settings.EXTRA_MODELS = {
        SECOND_MODEL: frozenset({"prompt_extend", "seed", "negative_prompt", "watermark"})
    }
    data = FORM | {"prompts": "A lighthouse", "seed_list": "7", "models": ["z-image-turbo", SECOND_MODEL]}

    assert (
        "1 prompt × 1 seed × 1 size × 2 models = 2 images"
        in client.post(reverse("generations:batch-preview"), data).text
    )
    client.post(reverse("generations:batch-new"), data)
    batch = Batch.objects.get()
    finish_all(batch)

    assert sorted(batch.cells.values_list("model", "status")) == [
        (SECOND_MODEL, "succeeded"),
        ("z-image-turbo", "succeeded"),
    ]
    bodies = {body["model"]: body["parameters"] for body in use_fake_provider.requests}
    assert bodies == {
        "z-image-turbo": {"prompt_extend": False, "seed": 7},
        SECOND_MODEL: {"prompt_extend": False, "seed": 7, "watermark": False},
    }
    grid = client.get(batch.get_absolute_url()).text
    assert '<option value="model" selected>Model</option>' in grid
    assert f'<th scope="col">{SECOND_MODEL}</th>' in grid
    assert (
        "Model: z-image-turbo vs qwen-image-plus (1 pair)"
        in client.get(f"{reverse('judging:new')}?batch={batch.public_id}").text
    )
