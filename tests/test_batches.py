"""Batches: the plan a form makes, queueing all cells as one within the limits, the grid, downloads, re-runs."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import httpx
import pytest
from django.urls import reverse
from PIL import Image, ImageChops, ImageDraw
from PIL.PngImagePlugin import PngImageFile
from procrastinate.contrib.django.models import ProcrastinateJob

from generations.batch_plan import count_alternatives, expand_alternatives
from generations.forms import BatchForm
from generations.models import Batch, Generation, GenerationStatus, Requester
from generations.services import batch_files
from generations.services.batches import batch_cancel, batch_retry_failed, batch_run_again
from generations.services.lifecycle import generation_delete
from generations.services.limits import GenerationRefused
from tests.factories import finish, finish_all, make_batch, make_generation
from tests.fake_provider import SECOND_MODEL
from tests.query_count import count_queries

pytestmark = pytest.mark.django_db

FORM = {
    "prompts": "A {red|blue} bicycle\nA lighthouse",
    "seed_list": "1, 2",
    "sizes": ["1024x1024"],
    "extend": "off",
}


ANYONE = Requester(user=None)


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


BOMB_LINE = "A cat " + "{a|b}" * 60  # 2**60 prompts if they were made; 306 characters


def test_alternatives_are_counted_from_the_group_sizes_without_making_them():
    assert count_alternatives(["A {red|blue} car at {dawn|noon|dusk}", "A lighthouse"], stop_past=100) == 7
    assert count_alternatives([BOMB_LINE], stop_past=100) == 128, "stops at the first product past the cap"


def test_a_line_of_alternatives_past_the_cap_is_refused_without_being_expanded(client):
    tracemalloc.start()
    try:
        form = BatchForm(FORM | {"prompts": BOMB_LINE})
        valid = form.is_valid()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not valid
    assert "These lines make more than 100 prompts" in form.errors["prompts"][0]
    assert peak < 1_000_000, f"{peak:,} bytes: the prompts were made before they were counted"
    for route in ("generations:batch-preview", "generations:batch-new"):
        answer = client.post(reverse(route), FORM | {"prompts": BOMB_LINE})
        assert answer.status_code in (200, 400)
        assert "These lines make more than 100 prompts" in answer.text
    assert Batch.objects.count() == 0


def test_identical_lines_count_once(client):
    summary = client.post(
        reverse("generations:batch-preview"), FORM | {"prompts": "A lighthouse\n" * 500}
    ).text

    assert "1 prompt × 2 seeds × 1 size = 2 images" in summary


def test_the_preview_needs_sign_in_when_generating_does(client, settings):
    settings.REQUIRE_LOGIN = True

    answer = client.post(reverse("generations:batch-preview"), FORM | {"prompts": BOMB_LINE})

    assert answer.status_code == 302
    assert answer.url.startswith(reverse("login"))


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
    assert (
        '<th scope="row"><span class="row-label" title="A lighthouse">A lighthouse</span></th>' in by_default
    )
    assert "<h2>1024×1024</h2>" in by_default, "the parameter on neither axis makes one grid per value"
    assert '<th scope="col">1360×768</th>' in swapped
    assert '<th scope="row"><span class="row-label" title="Seed 8">Seed 8</span></th>' in swapped


def test_cancel_stops_the_cells_not_yet_sent(use_fake_provider):
    batch = make_batch()
    first = batch.cells.get(cell_index=0)
    finish(first)

    assert batch_cancel(batch=batch) == 3
    finish_all(batch)

    statuses = sorted(batch.cells.values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "cancelled", "succeeded"]
    assert len(use_fake_provider.requests) == 1


def test_retrying_failed_cells_puts_new_attempts_in_their_places(client, use_fake_provider):
    batch = make_batch(prompts=["Fine", "Broken [fault:503]"], seeds=[1])
    finish_all(batch)

    assert batch_retry_failed(batch=batch, requester=ANYONE) == 1

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


def test_a_deleted_cell_is_blank_in_the_composite_and_the_stale_one_is_removed(client, demo_mode, media_root):
    batch = make_batch()
    finish_all(batch)
    url = reverse("generations:batch-grid-image", args=[batch.public_id])
    before = client.get(url).content
    [stale] = (media_root / "grids" / batch.public_id).iterdir()
    first_cell = batch.cells.get(cell_index=0)

    generation_delete(generation=first_cell)

    assert not stale.exists(), "the composite that showed it is gone"
    after = client.get(url).content
    assert after != before
    cells_top = (
        batch_files.CAPTION.line_height
        + batch_files.COLUMN_LABEL_LINES * batch_files.LABELS.line_height
        + 4 * batch_files.PADDING_PX
    )
    centre = (
        batch_files.HEADER_PX + batch_files.CELL_PX // 2,
        cells_top + batch_files.CELL_PX // 2,
    )  # cell 0
    assert Image.open(io.BytesIO(before)).getpixel(centre) != batch_files.EMPTY_CELL
    assert Image.open(io.BytesIO(after)).getpixel(centre) == batch_files.EMPTY_CELL


def test_the_composite_labels_a_chinese_prompt_and_sizes_in_its_fonts_glyphs(client, demo_mode):
    prompt = "一只可爱的橘猫在窗台上晒太阳，旁边是一盆绿色的植物和一本翻开的书"
    batch = make_batch(prompts=(prompt,), seeds=(1,), sizes=("1024x1024", "1280x1280"))
    finish_all(batch)
    url = reverse("generations:batch-grid-image", args=[batch.public_id])

    composite = Image.open(io.BytesIO(client.get(url, {"x": "size", "y": "prompt"}).content)).convert("RGB")

    caption_px = batch_files.CAPTION.line_height + 2 * batch_files.PADDING_PX
    labels = batch_files.LABELS
    row_top = caption_px + batch_files.COLUMN_LABEL_LINES * labels.line_height + 2 * batch_files.PADDING_PX
    expected = Image.new("RGB", composite.size, (255, 255, 255))
    draw = ImageDraw.Draw(expected)
    row_lines = labels.wrap(prompt, batch_files.HEADER_PX - 2 * batch_files.PADDING_PX, 8)
    for line, text in enumerate(row_lines):
        labels.draw(
            draw,
            (batch_files.PADDING_PX, row_top + batch_files.PADDING_PX + line * labels.line_height),
            text,
            batch_files.INK,
        )
    labels.draw(
        draw, (batch_files.HEADER_PX + batch_files.PADDING_PX, caption_px), "1024×1024", batch_files.INK
    )
    row_label = (0, row_top, batch_files.HEADER_PX, row_top + batch_files.CELL_PX)
    column_label = (batch_files.HEADER_PX, caption_px, batch_files.HEADER_PX + batch_files.CELL_PX, row_top)
    assert "".join(row_lines).startswith("一只可爱的橘猫在窗台上"), "wrapped between characters, not cut"
    for box in (row_label, column_label):
        assert ImageChops.difference(composite.crop(box), expected.crop(box)).getbbox() is None
    # (tests/test_fonts.py checks that the lettering has a glyph for each of these characters)


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
    rerun = batch_run_again(batch=batch, requester=ANYONE)
    finish_all(rerun)
    unchanged = batch_run_again(batch=batch, requester=ANYONE)
    use_fake_provider.image_variant = ""
    finish_all(unchanged)

    assert [(cell.prompt, cell.seed, cell.cell_index) for cell in rerun.cells.order_by("cell_index")] == [
        (cell.prompt, cell.seed, cell.cell_index) for cell in batch.cells.order_by("cell_index")
    ]
    changed = client.get(reverse("generations:batch-compare", args=[batch.public_id, rerun.public_id])).text
    same = client.get(reverse("generations:batch-compare", args=[batch.public_id, unchanged.public_id])).text
    assert "<strong>4 of 4</strong> cells changed" in changed
    assert "<strong>0 of 4</strong> cells changed" in same
    assert same.count('<p class="difference">0 / 64</p>') == 4


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
    cell = batch.cells.get(cell_index=0)

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
    assert f'<span class="cell-label">{SECOND_MODEL}</span>' in grid
    assert (
        "Model: z-image-turbo vs qwen-image-plus (1 pair)"
        in client.get(f"{reverse('judging:new')}?batch={batch.public_id}").text
    )
