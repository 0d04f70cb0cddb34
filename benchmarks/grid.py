"""The batch grid page and its composite PNG at 100 cells: server time, SQL queries, build time and caching.

Runs in-process through Django's test client against the benchmark's embedded PostgreSQL (var/bench), with
production settings (DEBUG off, cached templates). The cells carry real 1024×1024 images (the offline demo's
drawings, RGB PNGs), so thumbnails and the composite decode what a real batch would.

    make bench                     # with the other benchmarks
    .venv/bin/python -m benchmarks.grid
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_REPEAT", "60"))

os.environ.update(
    {
        "VAR_DIR": str(ROOT / "var" / "bench"),
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "playground.settings",
    }
)
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.core.files.storage import default_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from generations.domain import GenerationParameters  # noqa: E402
from generations.models import Batch, GenerationStatus  # noqa: E402
from generations.services.batches import BatchPlan, batch_create, batch_grid_png  # noqa: E402
from generations.services.demo_provider import draw_demo_image  # noqa: E402
from generations.services.images import image_store  # noqa: E402
from playground.embedded_postgres import EmbeddedPostgres  # noqa: E402
from tests.query_count import count_queries  # noqa: E402

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
        f"  grid page, 100 cells, median / p95      {statistics.median(times):6.1f} / {_p95(times):.1f} ms (target median < 50 ms)"
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
    if existing:
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


def _timed(call, repeat: int = REPEAT) -> list[float]:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


if __name__ == "__main__":
    database = EmbeddedPostgres(Path(connection.settings_dict["DATA_DIR"]))
    was_running = database.is_running()
    try:
        main()
    finally:
        connection.close()
        if not was_running:
            database.stop()
