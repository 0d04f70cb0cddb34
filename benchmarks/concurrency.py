"""How many generations one production-like instance holds at once, and what it adds to the provider's latency.

Starts the fake provider (2 s per image) in its own process, then gunicorn exactly as the Dockerfile does (DEBUG off, collected
static files) on a separate embedded PostgreSQL under var/bench, submits N prompts through the browser form at
once, and waits until every row is final. Prints wall time, errors, added latency and peak memory.

    make bench                       # N=100, provider latency 2 s, images of about 1 MB
    BENCH_N=200 BENCH_LATENCY_S=5 BENCH_IMAGE_KB=2048 make bench
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.production import ProductionServer, csrf_token, post_generation

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_N", "100"))
LATENCY_S = float(os.environ.get("BENCH_LATENCY_S", "2"))
# A 1024x1024 PNG from a diffusion model weighs one to two megabytes: fetched, checked, hashed and stored.
IMAGE_KB = int(os.environ.get("BENCH_IMAGE_KB", "1024"))
PORT = int(os.environ.get("BENCH_PORT", "8123"))
PROVIDER_PORT = PORT + 1
WARM_UP = 8
BASE = f"http://127.0.0.1:{PORT}"


def main() -> None:
    server = ProductionServer(
        var_dir=ROOT / "var" / "bench",
        port=PORT,
        provider_base_url=f"http://127.0.0.1:{PROVIDER_PORT}/v1",
        provider_key="bench-key",
        LOG_LEVEL="WARNING",
        REQUIRE_LOGIN="false",
        LIMIT_PER_MINUTE="100000",
    )
    server.prepare()
    server.manage("migrate", "-v0")
    server.manage("shell", "-c", _RESET_SQL)
    # The provider runs in its own process, as a remote one would: its work is not the playground's.
    provider = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_provider",
            "--port",
            str(PROVIDER_PORT),
            "--latency",
            str(LATENCY_S),
            "--api-key",
            "bench-key",
            "--image-padding-kb",
            str(IMAGE_KB),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        server.start()
        _run(server)
    finally:
        server.stop()
        provider.send_signal(signal.SIGTERM)
        provider.wait(timeout=30)


def _run(server: ProductionServer) -> None:
    limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
    with httpx.Client(base_url=BASE, timeout=30, limits=limits) as client:
        token = csrf_token(client)

        def submit(index: int) -> float:
            started = time.perf_counter()
            post_generation(client, token, f"{PROMPT_PREFIX} {index}", seed=str(index))
            return time.perf_counter() - started

        memory = _MemoryWatch(server.process.pid)
        # Warm both workers up (imports, HTTP client, Pillow plugins) so that the figures are steady-state.
        with ThreadPoolExecutor(max_workers=WARM_UP) as pool:
            list(pool.map(submit, range(N, N + WARM_UP)))
        _wait_for_final_rows(server, memory, WARM_UP, delete=True)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=N) as pool:
            post_times = sorted(pool.map(submit, range(N)))
        submitted = time.perf_counter() - started
        rows = _wait_for_final_rows(server, memory, N, delete=True)
        wall = time.perf_counter() - started
        page_times = sorted(_timed_get(client, "/") for _ in range(20))

    succeeded = [row for row in rows if row["status"] == "succeeded"]
    added = sorted(row["total_ms"] - row["provider_ms"] - row["fetch_ms"] for row in succeeded) or [0]
    fetch = sorted(row["fetch_ms"] for row in succeeded) or [0]
    print(
        f"\nconcurrency: {N} generations through the browser form at once, provider latency {LATENCY_S:.1f} s, "
        f"images of about {IMAGE_KB} KB"
    )
    print(f"  all {N} POSTs answered in           {submitted * 1000:8.0f} ms")
    print(
        f"  POST answer, median / p95           {_ms(post_times, 0.5):8.0f} / {_ms(post_times, 0.95):.0f} ms"
    )
    print(f"  wall time, first POST to last image {wall * 1000:8.0f} ms (target < {LATENCY_S + 1:.0f} s)")
    provider = sorted(row["provider_ms"] for row in succeeded) or [0]
    print(f"  image fetch, median / p95           {_p(fetch, 0.5):8.0f} / {_p(fetch, 0.95):.0f} ms")
    print(f"  provider latency seen, median / p95 {_p(provider, 0.5):8.0f} / {_p(provider, 0.95):.0f} ms")
    errors = Counter(row["error"] for row in rows if row["status"] != "succeeded")
    print(f"  errors                              {N - len(succeeded):8d} (target 0) {dict(errors) or ''}")
    print(
        f"  added latency, median / p95         {_p(added, 0.5):8.0f} / {_p(added, 0.95):.0f} ms (checks, store, bookkeeping)"
    )
    print(f"  home page afterwards, median        {_ms(page_times, 0.5):8.0f} ms")
    print(f"  peak RSS of the app's processes     {memory.peak_mb:8.0f} MB")
    print("  (a browser sees the result at its next 1 s poll: on average 0.5 s after it is stored)")


def _timed_get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    client.get(path).raise_for_status()
    return time.perf_counter() - started


def _ms(seconds: list[float], quantile: float) -> float:
    return _p(seconds, quantile) * 1000


def _p(values: list[float], quantile: float) -> float:
    return values[min(len(values) - 1, round(quantile * (len(values) - 1)))]


class _MemoryWatch:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0

    def sample(self) -> None:
        pids = [self.pid, *_children(self.pid)]
        total_kb = sum(_rss_kb(pid) for pid in pids)
        self.peak_mb = max(self.peak_mb, total_kb / 1024)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _wait_for_final_rows(
    server: ProductionServer, memory: _MemoryWatch, expected: int, *, delete: bool = False
) -> list[dict]:
    query = """
        SELECT status, error_code, total_latency_ms, provider_latency_ms, image_fetch_ms FROM generations_generation
        WHERE prompt LIKE %(prefix)s
    """
    deadline = time.monotonic() + 120
    with server.database() as connection:
        while time.monotonic() < deadline:
            memory.sample()
            rows = connection.execute(query, {"prefix": f"{PROMPT_PREFIX} %"}).fetchall()
            if len(rows) == expected and all(status != "pending" for status, *_ in rows):
                if delete:
                    connection.execute(
                        "DELETE FROM generations_generation WHERE prompt LIKE %s", [f"{PROMPT_PREFIX} %"]
                    )
                return [
                    {"status": s, "error": e, "total_ms": t or 0, "provider_ms": p or 0, "fetch_ms": f or 0}
                    for s, e, t, p, f in rows
                ]
            time.sleep(0.05)
    raise SystemExit("generations still pending after 120 s")


PROMPT_PREFIX = "bench-concurrency"
# Only this benchmark's own rows: the gallery benchmark's 100,000 stay.
_RESET_SQL = f"from generations.models import Generation; Generation.objects.filter(prompt__startswith={PROMPT_PREFIX!r}).delete()"

if __name__ == "__main__":
    main()
