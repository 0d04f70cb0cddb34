"""Batches in a real Chromium: the form's summary, a grid filling live, axes, downloads, share link, re-run, cancel."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngImageFile
from playwright.sync_api import Browser, Page, expect

from generations.models import Batch, GenerationStatus
from tests.test_browser import open_details_from_the_lightbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit_batch(page: Page, prompts: str, seeds: str) -> None:
    page.goto("/batch/")
    page.get_by_label("Prompts").fill(prompts)
    page.get_by_label("Or these seeds").fill(seeds)
    expect(page.locator("#batch-summary")).to_contain_text("3 prompts × 4 seeds × 1 size = 12 images")
    page.get_by_role("button", name="Queue the batch").click()
    expect(page).to_have_url(re.compile(r"/b/[\w-]+/$"))


def test_a_batch_fills_its_grid_live_and_can_be_shared_downloaded_and_run_again(
    page: Page, browser: Browser, use_fake_provider
):
    use_fake_provider.latency_s = 0.3
    submit_batch(page, "A {red|green|blue} kite", "1, 2, 3, 4")

    expect(page.locator(".grid-cell img")).to_have_count(12)
    expect(page.locator("#batch-progress")).to_contain_text("12 of 12 done")
    expect(page.get_by_role("columnheader", name="Seed 3")).to_be_visible()
    expect(page.get_by_role("rowheader", name="A green kite")).to_be_visible()

    page.get_by_label("Rows").select_option("seed")
    page.get_by_label("Columns").select_option("prompt")
    expect(page.get_by_role("columnheader", name="A blue kite")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Seed 4")).to_be_visible()
    assert "x=prompt" in page.url, "the axes are in the link"
    assert "y=seed" in page.url

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Grid PNG").click()
    composite = Image.open(download_info.value.path())
    assert isinstance(composite, PngImageFile)
    composite.load()
    assert json.loads(composite.text["parameters"])["prompts"] == [
        "A red kite",
        "A green kite",
        "A blue kite",
    ]

    share_url = page.url
    colleague = browser.new_context()
    try:
        other = colleague.new_page()
        other.goto(share_url)
        expect(other.locator(".grid-cell img")).to_have_count(12)
    finally:
        colleague.close()

    page.locator(".grid-cell a").first.click()  # rows are seeds now, columns prompts
    lightbox = page.locator("#lightbox")
    expect(lightbox.locator("#lightbox-title")).to_contain_text("A red kite")
    expect(lightbox.locator(".facts")).to_contain_text("Seed1")
    page.keyboard.press("ArrowDown")
    expect(lightbox.locator(".facts")).to_contain_text("Seed2")
    page.keyboard.press("ArrowRight")
    expect(lightbox.locator("#lightbox-title")).to_contain_text("A green kite")
    open_details_from_the_lightbox(page)
    expect(page.get_by_role("heading", name="Copy as code")).to_be_visible()
    page.go_back()

    page.get_by_role("button", name="Run again").click()
    expect(page.get_by_text("a re-run of")).to_be_visible()
    expect(page.locator("#batch-progress")).to_contain_text("12 of 12 done")
    page.get_by_role("link", name="compare the two").click()
    expect(page.locator(".difference")).to_have_count(12)
    expect(page.locator(".difference").first).to_contain_text("0 / 64")


@pytest.mark.parametrize("worker_concurrency", [1])
def test_cancelling_a_batch_midway_sends_nothing_more_to_the_provider(page: Page, use_fake_provider):
    use_fake_provider.latency_s = 0.4
    submit_batch(page, "A {red|green|blue} kite", "1, 2, 3, 4")
    expect(page.locator("#batch-progress")).to_contain_text(re.compile(r"[1-9]\d* of 12 done"))

    page.get_by_role("button", name=re.compile(r"Cancel the \d+ cells? not yet sent")).click()

    expect(page.locator("#batch-progress")).to_contain_text("cancelled")
    batch = Batch.objects.get()
    expect(page.locator(".grid-cell.status-running")).to_have_count(0)
    succeeded = batch.cells.filter(status=GenerationStatus.SUCCEEDED).count()
    assert batch.cells.filter(status=GenerationStatus.CANCELLED).count() == 12 - succeeded
    assert len(use_fake_provider.requests) == succeeded, "no cancelled cell reached the provider"


def test_the_grid_fits_a_phone_and_scrolls_sideways_inside_itself(
    browser: Browser, playground, use_fake_provider
):
    context = browser.new_context(base_url=playground, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        submit_batch(page, "A {red|green|blue} kite", "1, 2, 3, 4")
        expect(page.locator(".grid-cell img")).to_have_count(12)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            "the page itself does not overflow"
        )
        grid = page.locator(".grid-scroll").first
        assert grid.evaluate("element => element.scrollWidth > element.clientWidth"), (
            "the grid scrolls instead"
        )
    finally:
        context.close()
