"""The README's pictures, remade from a running playground in the offline demo.

It starts nothing: it drives a `make run` you started (best on an empty database of its own, so that the pictures
show only what this script made) through its pages in Chromium, as a person would: a batch through the batch
form, then single prompts through the home page's form. Then it photographs the home page, the gallery, the
batch's grid and a portrait's share page on a phone, and writes them to docs/screenshots/ as WebP at
quality 90: the demo's gradients without the banding a 256-colour PNG gives them, the text crisp, under 100 KB a
picture.

    VAR_DIR=var/screenshots PORT=8101 make run                        # in one terminal (no ZIMAGE_API_KEY)
    .venv/bin/python -m benchmarks.screenshots http://127.0.0.1:8101  # in another
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, ViewportSize, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
DESKTOP = ViewportSize(width=1440, height=900)
PHONE = ViewportSize(width=390, height=844)
WEBP_QUALITY = 90
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
UNFINISHED = "[data-status=queued], [data-status=running]"
DONE_WITHIN_S = 180.0

# The offline demo paints landscapes, the prompt picking the palette (dawn, day, dusk, a red sunset, mist, a
# green evening, night) and the seed the shapes: these prompts were chosen so that each picture matches its
# words. The last one is the home page's large result; the phone shows this portrait's share page.
PHONE_PROMPT = "Misty karst peaks over the Li River, soft light"
BATCH_PROMPTS = "Layered mountain ridges at {dawn|dusk|night}, muted colours, film grain"
BATCH_SEEDS = 4
BATCH_SIZE = "1024x1024"
PROMPTS = [
    ("Rolling hills in Tuscany at first light, film grain", "1184x896"),
    ("桂林山水，清晨薄雾，水墨风格，淡雅", "896x1184"),
    ("Desert mesas under a violet evening sky, 35mm film", "1360x768"),
    ("A quiet alpine valley under a starry sky, 35mm", "1024x1024"),
    ("富士山の夕焼け、静かな湖、穏やかな光", "1104x1472"),
    ("Snow-capped peaks on a clear summer day, bright and sharp", "1472x1104"),
    ("Highland glen in the evening, green slopes, cool light", "1184x896"),
    (PHONE_PROMPT, "1024x1536"),
    ("Sunset over the Dolomites, glowing peaks, 35mm film", "1472x1104"),
]


def main(base_url: str) -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=DESKTOP, device_scale_factor=1)
        batch_url = _batch_make(page, base_url)
        for prompt, size in PROMPTS:
            _generate(page, base_url, prompt=prompt, size=size)
        _until_done(page, batch_url)
        _until_done(page, f"{base_url}/")
        portrait = page.locator("#results article", has_text=PHONE_PROMPT).locator("a.card-image")
        portrait_url = portrait.get_attribute("href")

        _photograph(page, "home.webp")
        page.goto(f"{base_url}/gallery/")
        _photograph(page, "gallery.webp")
        page.goto(batch_url)
        _photograph(page, "batch-grid.webp")
        phone = browser.new_page(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
        phone.goto(f"{base_url}{portrait_url}")
        _photograph(phone, "phone.webp")
        browser.close()


def _batch_make(page: Page, base_url: str) -> str:
    page.goto(f"{base_url}/batch/")
    page.fill("#id_prompts", BATCH_PROMPTS)
    page.fill("#id_seed_count", str(BATCH_SEEDS))
    page.uncheck("input[name=sizes]:checked")
    page.check(f"input[name=sizes][value='{BATCH_SIZE}']")
    with page.expect_navigation(url="**/b/**"):
        page.click("#batch-form button[type=submit]")
    return page.url


def _generate(page: Page, base_url: str, *, prompt: str, size: str) -> None:
    if page.url != f"{base_url}/":
        page.goto(f"{base_url}/")
    page.fill("#id_prompt", prompt)
    page.select_option("#id_size", size)
    with page.expect_response(lambda response: response.url.endswith("/generate/")):
        page.click("#generation-form button[type=submit]")


def _until_done(page: Page, url: str) -> None:
    deadline = time.monotonic() + DONE_WITHIN_S
    page.goto(url)
    while page.locator(UNFINISHED).count():
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{url} still has unfinished images after {DONE_WITHIN_S:.0f} s: is the worker running?"
            )
        time.sleep(1)
        page.goto(url)


def _photograph(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    page.wait_for_function("[...document.images].every((image) => image.complete)")
    image = Image.open(io.BytesIO(page.screenshot()))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="WEBP", quality=WEBP_QUALITY, method=6)
    (OUT / name).write_bytes(buffer.getvalue())
    print(f"{OUT / name}: {image.width}×{image.height}, {len(buffer.getvalue()) // 1000} KB")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
