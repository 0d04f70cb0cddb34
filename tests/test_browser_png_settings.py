"""A PNG dropped on (or picked for) the prompt form fills it with the settings its text chunks carry, in Chromium."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, PngImagePlugin
from playwright.sync_api import Page, expect

from generations.models import Generation
from generations.services.generation_files import generation_download_png
from tests.conftest import PHONE
from tests.factories import finish, make_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STABLE_DIFFUSION_PARAMETERS = (
    "A castle on a hill at dawn\n"
    "Negative prompt: blurry, low quality\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 987654, Size: 1024x1024, Model: sdxl"
)


def png(texts: dict[str, str] | None = None) -> bytes:
    """A small PNG carrying `texts` as tEXt chunks (the Stable Diffusion web UI writes them so)."""
    info = PngImagePlugin.PngInfo()
    for keyword, text in (texts or {}).items():
        info.add_text(keyword, text)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def drop(page: Page, name: str, data: bytes, mime: str = "image/png") -> None:
    """Drag a file over the prompt form and drop it, as from a file manager."""
    transfer = page.evaluate_handle(
        """([name, data, mime]) => {
            const transfer = new DataTransfer();
            const bytes = Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
            transfer.items.add(new File([bytes], name, {type: mime}));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )
    page.dispatch_event("#generation-form textarea", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#generation-form textarea", "drop", {"dataTransfer": transfer})


@pytest.fixture
def made_here(transactional_db, demo_mode) -> bytes:
    """A PNG downloaded from a share page: Chinese prompt, a size that is no preset, prompt extend on."""
    generation = finish(
        make_generation(
            prompt="一只橘猫在窗台上晒太阳, golden hour",
            width=1200,
            height=900,
            seed=12345,
            prompt_extend=True,
        )
    )
    return generation_download_png(generation=generation, share_url="http://example.test/g/x/")


def test_dropping_a_png_made_here_fills_the_form_and_generates_with_its_settings(made_here, page: Page):
    page.goto("/")

    drop(page, "zimage-x-12345.png", made_here)

    status = page.locator("[data-png-status]")
    expect(status).to_have_text(
        "Filled from zimage-x-12345.png: prompt, size 1200x900, seed 12345, prompt extend on."
    )
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("一只橘猫在窗台上晒太阳, golden hour")
    expect(page.get_by_label("Size", exact=True)).to_have_value("custom")
    expect(page.get_by_label("Custom size", exact=True)).to_have_value("1200x900")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("12345")
    expect(page.get_by_label("Extend prompt", exact=True)).to_be_checked()
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#results article").first.locator("img")).to_be_visible()
    newest = Generation.objects.latest("id")
    assert (newest.prompt, newest.width, newest.height, newest.seed, newest.prompt_extend) == (
        "一只橘猫在窗台上晒太阳, golden hour",
        1200,
        900,
        12345,
        True,
    )


def test_on_a_phone_picking_a_stable_diffusion_png_fills_what_it_carries(open_page, demo_mode, tmp_path):
    page = open_page(PHONE)
    page.goto("/")
    page.get_by_label("Extend prompt", exact=True).check()
    path = tmp_path / "castle.png"
    path.write_bytes(png({"parameters": STABLE_DIFFUSION_PARAMETERS}))

    page.get_by_label("Fill from a PNG…").set_input_files(path)

    expect(page.locator("[data-png-status]")).to_have_text(
        "Filled from castle.png: prompt, size 1024x1024, seed 987654."
    )
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("A castle on a hill at dawn")
    expect(page.get_by_label("Size", exact=True)).to_have_value("1024x1024")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("987654")
    expect(page.get_by_label("Extend prompt", exact=True)).to_be_checked()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        (
            "photo.png",
            png({"Software": "A camera"}),
            "photo.png carries no generation settings: nothing was changed.",
        ),
        ("notes.txt", b"parameters: a prompt", "notes.txt is not a PNG, so it carries no settings to read."),
    ],
    ids=["png-without-settings", "not-a-png"],
)
def test_a_file_with_nothing_usable_says_so_and_changes_nothing(page: Page, demo_mode, name, data, says):
    page.goto("/")
    page.get_by_label("Prompt", exact=True).fill("My own prompt")

    drop(page, name, data, mime="image/png" if name.endswith(".png") else "text/plain")

    expect(page.locator("[data-png-status]")).to_contain_text(says)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("My own prompt")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("")
