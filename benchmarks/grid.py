"""The batch grid page and its composite PNG at 100 cells: server time, SQL queries, build time and caching.

Runs in-process through Django's test client against the benchmark's embedded PostgreSQL (var/bench), with
production settings (DEBUG off, cached templates). The cells carry real 1024×1024 images (the offline demo's
drawings, RGB PNGs), so thumbnails and the composite decode what a real batch would.

    make bench                     # with the other benchmarks
    .venv/bin/python -m benchmarks.grid
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from benchmarks.in_process import REPEAT, p95, run
from generations.batch_plan import BatchPlan
from generations.domain import GenerationParameters
from generations.images import image_store
from generations.models import Batch, GenerationStatus
from generations.provider.demo import draw_demo_image
from generations.services.batch_files import batch_grid_png
from generations.services.batches import batch_create
from tests.query_count import count_queries

PREFIX = "bench-grid"


def main() -> None:
    call_command("migrate", verbosity=0)
    small, large = _batch(prompts=2, seeds=2), _batch(prompts=10, seeds=10)
    client = Client()
    print(
        f"\ngrid: a batch of {large.cell_count} cells (real 1024×1024 images), {REPEAT} requests, server time in-process"
    )
    queries = {}
    for label, batch in (("4 cells", small), ("100 cells", large)):
        client.get(batch.get_absolute_url())  # thumbnails are the browser's part; the page only links them
        with count_queries() as counted:
            client.get(batch.get_absolute_url())
        queries[label] = counted.total
    times = _timed(lambda: client.get(large.get_absolute_url()))
    print(
        f"  grid page, 100 cells, median / p95      {statistics.median(times):6.1f} / {p95(times):.1f} ms (target median < 50 ms)"
    )
    print(
        f"  SQL queries per grid page               {queries['4 cells']} at 4 cells, {queries['100 cells']} at 100 cells (target: the same)"
    )

    for generation in large.cells.all():
        generation.thumbnail = generation.image_dhash = ""
        generation.save(update_fields=["thumbnail", "image_dhash"])
    _clear_composites()
    share_url = f"http://testserver{large.get_absolute_url()}"
    started = time.perf_counter()
    batch_grid_png(batch=large, x="seed", y="prompt", share_url=share_url)
    cold = (time.perf_counter() - started) * 1000
    _clear_composites()
    started = time.perf_counter()
    batch_grid_png(batch=large, x="seed", y="prompt", share_url=share_url)
    warm = (time.perf_counter() - started) * 1000
    cached = _timed(lambda: batch_grid_png(batch=large, x="seed", y="prompt", share_url=share_url), repeat=20)
    print(f"  composite PNG, 100 cells, first build   {cold:8.0f} ms (thumbnails made too)")
    print(f"  composite PNG, thumbnails already made  {warm:8.0f} ms (target < 2000 ms)")
    print(f"  composite PNG, cached, median           {statistics.median(cached):8.1f} ms")


def _batch(*, prompts: int, seeds: int) -> Batch:
    """A finished batch whose cells have stored images (made once: names come from the bytes)."""
    plan = BatchPlan(
        [f"{PREFIX} prompt {index}" for index in range(prompts)], list(range(seeds)), ["1024x1024"], [False]
    )
    existing = Batch.objects.filter(prompts=plan.prompts, seeds=plan.seeds).first()
    if existing and existing.cells.filter(status=GenerationStatus.SUCCEEDED).count() == plan.count:
        return existing
    batch = batch_create(plan=plan, prompts_text="\n".join(plan.prompts))
    for generation in batch.cells.all():
        stored = image_store(
            draw_demo_image(GenerationParameters(generation.prompt, 1024, 1024, generation.seed, False))
        )
        generation.status = GenerationStatus.SUCCEEDED
        generation.image.name, generation.image_sha256, generation.image_bytes = (
            stored.name,
            stored.sha256,
            stored.byte_size,
        )
        generation.finished_at = timezone.now()
        generation.save()
    batch.cells.update(job_id=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = 'generations.run' AND status = 'todo'"
        )
    return batch


def _clear_composites() -> None:
    if not default_storage.exists("grids"):
        return
    folders, _ = default_storage.listdir("grids")
    for folder in folders:
        for name in default_storage.listdir(f"grids/{folder}")[1]:
            default_storage.delete(f"grids/{folder}/{name}")


def _timed(call: Callable[[], object], repeat: int = REPEAT) -> list[float]:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


if __name__ == "__main__":
    run(main)
