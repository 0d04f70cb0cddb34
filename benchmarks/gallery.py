"""Gallery, search and detail pages with 100,000 generations: server time, SQL queries and page weight.

Runs in-process through Django's test client against the benchmark's embedded PostgreSQL (var/bench), with
production settings (DEBUG off, cached templates). Seeds the rows on first use (`seed_generations`).

    make bench                 # both benchmarks
    BENCH_ROWS=200000 .venv/bin/python -m benchmarks.gallery
"""

from __future__ import annotations

import html
import os
import re
import statistics
from pathlib import Path

import django_htmx
from django.core.management import call_command
from django.db import connection
from django.test import Client

from benchmarks.in_process import REPEAT, ROOT, measure, p95, run  # sets Django up
from generations.models import Generation

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
NEXT_LINK = re.compile(r'class="gallery-next" href="([^"]+)"')
THUMBNAIL = re.compile(r'src="/g/([\w-]+)/thumbnail/"')


def main() -> None:
    call_command("migrate", verbosity=0)
    missing = ROWS - Generation.objects.count()
    if missing > 0:
        print(f"seeding {missing} generations (once)…")
        call_command("seed_generations", missing)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE generations_generation")
    client = Client()
    first_page = client.get("/gallery/")
    deep_url = "/gallery/"
    for _ in range(20):
        next_link = NEXT_LINK.search(client.get(deep_url).text)
        assert next_link, "the seeded gallery has more than 20 pages"
        deep_url = html.unescape(next_link[1])
    detail = Generation.objects.live().filter(status="succeeded").order_by("?").first()
    assert detail, "the seeded gallery has images"
    detail_url = detail.get_absolute_url()

    print(
        f"\ngallery: {Generation.objects.count():,} generations, {REPEAT} requests each, server time in-process"
    )
    print(f"  {'page':40} {'median':>8} {'p95':>8} {'queries':>8}")
    for label, url in (
        ("gallery, first page", "/gallery/"),
        ("gallery, page 21 (keyset cursor)", deep_url),
        ("search 'lighthouse golden'", "/gallery/?q=lighthouse+golden"),
        ("search '橘猫' (Chinese, two characters)", "/gallery/?q=%E6%A9%98%E7%8C%AB"),
        ("search '猫' (one character)", "/gallery/?q=%E7%8C%AB"),
        ("filters: 16:9, extended, done", "/gallery/?ratio=16%3A9&extend=on&status=succeeded"),
        ("favourites", "/gallery/?favourites=on"),
        ("detail page", detail_url),
    ):
        measured = measure(client, url)
        times = measured.wall_ms
        print(f"  {label:40} {statistics.median(times):6.1f}ms {p95(times):6.1f}ms {measured.queries:8d}")

    tiles = THUMBNAIL.findall(first_page.text)
    thumbnails = sum(len(client.get(f"/g/{public_id}/thumbnail/").content) for public_id in tiles)
    static = sum(
        (ROOT / "static" / name).stat().st_size for name in ("playground.css", "playground.js", "gallery.js")
    )
    htmx = Path(django_htmx.__file__).parent / "static" / "django_htmx" / "htmx-2.min.js"
    total = len(first_page.content) + thumbnails + static + htmx.stat().st_size
    print(
        f"  first gallery page weight: {total / 1024:.0f} KB (HTML {len(first_page.content) / 1024:.0f} KB, "
        f"{len(tiles)} thumbnails {thumbnails / 1024:.0f} KB, CSS+JS "
        f"{(static + htmx.stat().st_size) / 1024:.0f} KB, uncompressed; target < 400 KB)"
    )


if __name__ == "__main__":
    run(main)
