"""The job engine under load, on the production path: gunicorn with uvicorn workers (bin/start) and one job
worker (bin/worker) as shipped, from the runtime-only environment, REQUIRE_LOGIN on, requests signed in as 10
users (limits raised, not switched off, so the per-user row locks and limit counts are in every figure). The fake
provider runs in its own process with images of about 1 MB.

Scenarios, each printing its figures:
  burst   100 prompts posted through the form at once, provider 2 s: wall time to the last image stored
  queue   1,000 prompts queued at once, worker concurrency 100, provider 2 s; pages timed meanwhile
  api     100 concurrent /v1 calls with the provider at 10 s; pages timed meanwhile
  crash   kill -9 the worker with 50 running and 200 queued, then start it again
  push    stored-to-shown delay on an open page (server-sent event, then the card)
  batch   a 64-image batch (8 prompts × 8 seeds) through the batch form, provider 2 s

    make bench                                    # everything
    BENCH_SCENARIOS=burst,push python -m benchmarks.concurrency
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import httpx

from tests.production import ProductionServer, csrf_token, first_group, post_generation

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "burst,queue,api,crash,push,batch").split(",")
IMAGE_KB = int(os.environ.get("BENCH_IMAGE_KB", "1024"))
PORT = int(os.environ.get("BENCH_PORT", "8123"))
PROVIDER_PORT = PORT + 1
USERS = 10
PASSWORD = "bench-password-not-secret"  # noqa: S105 (bench accounts on a throwaway database)
PREFIX = "bench-concurrency"
PAGES = ("/", "/gallery/", "/healthz")


def main() -> None:
    server = ProductionServer(
        var_dir=ROOT / "var" / "bench",
        port=PORT,
        provider_base_url=f"http://127.0.0.1:{PROVIDER_PORT}/v1",
        provider_key="bench-key",
        LOG_LEVEL="WARNING",
        REQUIRE_LOGIN="true",
        LIMIT_PER_MINUTE="100000",
        LIMIT_PER_DAY="1000000",
        LIMIT_QUEUED_PER_USER="100000",
        MAX_QUEUED_GENERATIONS="100000",
        WORKER_CONCURRENCY="100",
    )
    try:
        server.prepare()
        server.manage("migrate", "-v0")
        tokens = json.loads(server.manage("shell", "--no-imports", "-c", _SETUP))
        print(
            f"\nconcurrency benchmarks on {os.cpu_count()} cores (load generator, fake provider, web and worker share them)"
        )
        server.start()
        clients = [_signed_in(f"bench{index}") for index in range(USERS)]
        with _fake_provider(latency_s=2):
            _warm_up(server, clients)
        for name in SCENARIOS:
            with _fake_provider(latency_s=10 if name in ("api", "crash") else 2):
                SCENARIO_RUNS[name](server, clients, tokens)
            _delete_rows(server)
    finally:
        server.close()


def burst(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    memory = _PeakMemory(server.workers[-1].pid)
    posted = _post_at_once(clients, 100)
    rows = _wait_until_final(server, 100, memory)
    figures = _row_figures(rows, posted.started)
    print(
        f"\nburst: 100 prompts through the form at once (10 users), provider 2 s, images of about {IMAGE_KB} KB"
    )
    print(
        f"  all 100 stored, first POST to last image   {figures['wall_s'] * 1000:8.0f} ms (target < 3000 ms)"
    )
    print(
        f"  errors                                     {figures['errors']:8d} (target 0) {figures['error_codes']}"
    )
    print(
        f"  POST answered, median / p95                {_p(posted.answer_ms, 0.5):8.0f} / {_p(posted.answer_ms, 0.95):.0f} ms"
    )
    print(f"  queue wait, median / p95                   {figures['queue_wait']}")
    print(f"  provider latency seen, median / p95        {figures['provider']}")
    print(f"  image fetch, median / p95                  {figures['fetch']}")
    print(
        f"  added by the playground, median / p95      {figures['added']} (queue, checks, store, bookkeeping)"
    )
    print(f"  worker peak RSS with 100 in flight         {memory.peak_mb:8.0f} MB")


def queue(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    memory = _PeakMemory(server.workers[-1].pid)
    with _PageTimer(clients[0]) as pages:
        posted = _post_at_once(clients, 1000, parallel=100)
        rows = _wait_until_final(server, 1000, memory, timeout_s=120)
    figures = _row_figures(rows, posted.started)
    print("\nqueue: 1,000 prompts queued at once (10 users), worker concurrency 100, provider 2 s")
    print(
        f"  all 1,000 done, first POST to last image   {figures['wall_s'] * 1000:8.0f} ms (target <= 25000 ms)"
    )
    print(
        f"  errors                                     {figures['errors']:8d} (target 0) {figures['error_codes']}"
    )
    print(
        f"  POST answered, median / p95                {_p(posted.answer_ms, 0.5):8.0f} / {_p(posted.answer_ms, 0.95):.0f} ms"
    )
    print(f"  queue wait, median / p95                   {figures['queue_wait']}")
    pages.report()
    print(f"  worker peak RSS                            {memory.peak_mb:8.0f} MB")


def api(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    def call(index: int) -> int:
        body = {"model": "z-image-turbo", "prompt": f"{PREFIX} api {index}", "size": "1024x1024"}
        headers = {"Authorization": f"Bearer {tokens[index % USERS]}"}
        return httpx.post(
            f"{server.url}/v1/images/generations", json=body, headers=headers, timeout=120
        ).status_code

    started = time.perf_counter()
    with _PageTimer(clients[0]) as pages, ThreadPoolExecutor(max_workers=100) as pool:
        statuses = Counter(pool.map(call, range(100)))
    print("\napi: 100 concurrent /v1/images/generations calls (10 tokens), provider 10 s")
    print(f"  answers                                    {dict(statuses)} (target all 200)")
    print(f"  all answered after                         {(time.perf_counter() - started) * 1000:8.0f} ms")
    pages.report()


def crash(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    server.stop_worker(server.workers[-1])
    server.env["WORKER_CONCURRENCY"] = "50"
    worker = server.start_worker()
    _post_at_once(clients, 250, parallel=50)
    _wait_for(
        server,
        "SELECT count(*) FILTER (WHERE status = 'running') = 50 AND count(*) FILTER (WHERE status = 'queued') = 200 FROM generations_generation WHERE prompt LIKE %s",
    )
    running = {
        row[0]
        for row in server.database().execute("SELECT id FROM generations_generation WHERE status = 'running'")
    }
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = time.monotonic()
    server.env["WORKER_CONCURRENCY"] = "100"
    server.start_worker()
    _wait_for(
        server,
        "SELECT count(*) = 0 FROM generations_generation WHERE prompt LIKE %s AND status IN ('queued', 'running')",
        timeout_s=90,
    )
    recovered_s = time.monotonic() - killed_at
    rows = (
        server.database()
        .execute("SELECT id, status FROM generations_generation WHERE prompt LIKE %s", [f"{PREFIX} %"])
        .fetchall()
    )
    caught = Counter(status for row_id, status in rows if row_id in running)
    waiting = Counter(status for row_id, status in rows if row_id not in running)
    print("\ncrash: kill -9 of the worker with 50 running and 200 queued (provider 10 s), then a new worker")
    print(f"  rows after                                 {len(rows):8d} of 250 (target: none lost)")
    print(
        f"  all final after the kill                   {recovered_s * 1000:8.0f} ms (target: none unfinished 90 s later)"
    )
    print(f"  the 50 that were running                   {dict(caught)} (target: all interrupted)")
    print(f"  the 200 that were queued                   {dict(waiting)} (target: all succeeded)")


def push(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    """What an open page does: one event stream for its unfinished cards, and a card fetched on each change."""
    client = clients[0]
    token = client.headers["X-CSRFToken"]
    public_ids = [
        first_group(
            r'data-live-card="([\w-]+)"', post_generation(client, token, f"{PREFIX} push {index}").text
        )
        for index in range(20)
    ]
    shown_at: dict[str, float] = {}
    with client.stream(
        "GET", "/events/", params=[("id", public_id) for public_id in public_ids], timeout=60
    ) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line.removeprefix("data: "))
            if event["status"] == "succeeded":
                client.get(f"/g/{event['id']}/card/").raise_for_status()
                shown_at[event["id"]] = time.time()
                if len(shown_at) == len(public_ids):
                    break
    finished: dict[str, float] = dict(
        server.database().execute(
            "SELECT public_id, extract(epoch FROM finished_at) FROM generations_generation WHERE public_id = ANY(%s)",
            [public_ids],
        )
    )
    delays = sorted((shown_at[public_id] - float(finished[public_id])) * 1000 for public_id in public_ids)
    print("\npush: an open page with 20 unfinished cards, provider 2 s")
    print(
        f"  stored to shown (event, then the card), median / p95 {_p(delays, 0.5):6.0f} / {_p(delays, 0.95):.0f} ms (target < 200 ms)"
    )


def batch(server: ProductionServer, clients: list[httpx.Client], tokens: list[str]) -> None:
    client = clients[0]
    data = {
        "prompts": f"{PREFIX} batch {{{'|'.join('abcdefgh')}}}",
        "seed_count": "8",
        "sizes": "1024x1024",
        "extend": "off",
    }
    memory = _PeakMemory(server.workers[-1].pid)
    started = time.time()
    response = client.post("/batch/", data=data)
    if response.status_code != 302:
        raise SystemExit(f"the batch was not queued: {response.status_code}")
    figures = _row_figures(_wait_until_final(server, 64, memory), started)
    print(
        "\nbatch: 8 prompts × 8 seeds = 64 images through the batch form, worker concurrency 100, provider 2 s"
    )
    print(
        f"  last cell stored after the submit          {figures['wall_s'] * 1000:8.0f} ms (target < 3000 ms)"
    )
    print(
        f"  errors                                     {figures['errors']:8d} (target 0) {figures['error_codes']}"
    )
    print(f"  queue wait, median / p95                   {figures['queue_wait']}")


SCENARIO_RUNS: dict[str, Callable] = {
    "burst": burst,
    "queue": queue,
    "api": api,
    "crash": crash,
    "push": push,
    "batch": batch,
}


class Posted(NamedTuple):
    started: float  # time.time() when the first POST was sent
    answer_ms: list[float]  # each POST's answer time, sorted


def _post_at_once(clients: list[httpx.Client], count: int, *, parallel: int | None = None) -> Posted:
    """Submit `count` prompts through the form, spread over the users, `parallel` at a time (all by default).

    The load generator shares the machine's cores with what it measures, so it is as cheap as a load generator
    can be in Python: one event loop, raw HTTP/1.1 over asyncio streams, a connection per POST as separate
    browsers would make, and every request prepared before the clock starts.
    """
    requests = [_form_post(clients[index % len(clients)], index) for index in range(count)]
    return asyncio.run(_send_all(requests, parallel or count))


def _form_post(client: httpx.Client, index: int) -> bytes:
    body = urlencode({"prompt": f"{PREFIX} {index}", "size": "1024x1024", "seed": str(index)}).encode()
    headers = {
        "Host": client.base_url.netloc.decode(),
        "Cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items()),
        "X-CSRFToken": client.headers["X-CSRFToken"],
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
        "Connection": "close",
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /generate/ HTTP/1.1\r\n{head}\r\n".encode() + body


async def _send_all(requests: list[bytes], parallel: int) -> Posted:
    gate = asyncio.Semaphore(parallel)

    async def send(request: bytes) -> float:
        async with gate:
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
            writer.write(request)
            answer = await reader.read()  # the server closes the connection after its answer
            writer.close()
            status = answer.split(b" ", 2)[1]
            if status != b"200":
                raise SystemExit(f"a POST was answered {status.decode()}: {answer[:500]!r}")
            return (time.perf_counter() - started) * 1000

    started = time.time()
    return Posted(started, sorted(await asyncio.gather(*(send(request) for request in requests))))


def _signed_in(username: str) -> httpx.Client:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    client = httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=60, limits=limits)
    token = csrf_token(client, "/accounts/login/")
    response = client.post(
        "/accounts/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    if response.status_code != 302:
        raise SystemExit(f"could not sign in as {username}")
    client.headers["X-CSRFToken"] = csrf_token(client)  # fetched once, so that no scenario times it
    return client


def _warm_up(server: ProductionServer, clients: list[httpx.Client]) -> None:
    """Imports, Pillow's plugins, and every pool (database, HTTP) at a burst's size in every process, so that
    the figures are steady-state: a burst straight after a start also pays for forking database backends."""
    _post_at_once(clients, 100)
    _wait_until_final(server, 100, _PeakMemory(server.workers[-1].pid))
    _delete_rows(server)


def _wait_until_final(
    server: ProductionServer, expected: int, memory: _PeakMemory, timeout_s: float = 60
) -> list[tuple]:
    query = """
        SELECT status, error_code, extract(epoch FROM created_at), extract(epoch FROM started_at),
               extract(epoch FROM finished_at), provider_latency_ms, image_fetch_ms, total_latency_ms
        FROM generations_generation WHERE prompt LIKE %s
    """
    deadline = time.monotonic() + timeout_s
    with server.database() as database:
        while time.monotonic() < deadline:
            memory.sample()
            rows = database.execute(query, [f"{PREFIX} %"]).fetchall()
            if len(rows) == expected and all(row[0] not in ("queued", "running") for row in rows):
                return rows
            time.sleep(0.05)
    raise SystemExit(f"generations still unfinished after {timeout_s} s")


def _row_figures(rows: list[tuple], started: float) -> dict:
    succeeded = [row for row in rows if row[0] == "succeeded"]
    queue_wait = sorted((float(row[3]) - float(row[2])) * 1000 for row in succeeded)
    provider = sorted(row[5] for row in succeeded)
    fetch = sorted(row[6] for row in succeeded)
    added = sorted(row[7] - row[5] - row[6] for row in succeeded)
    return {
        "wall_s": max(float(row[4]) for row in rows) - started,
        "errors": len(rows) - len(succeeded),
        "error_codes": dict(Counter(row[1] for row in rows if row[0] != "succeeded")) or "",
        "queue_wait": _pair(queue_wait),
        "provider": _pair(provider),
        "fetch": _pair(fetch),
        "added": _pair(added),
    }


def _pair(values: list[float]) -> str:
    return f"{_p(values, 0.5):8.0f} / {_p(values, 0.95):.0f} ms" if values else "       -"


def _wait_for(server: ProductionServer, condition_sql: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with server.database() as database:
        while time.monotonic() < deadline:
            row = database.execute(condition_sql, [f"{PREFIX} %"]).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise SystemExit(f"still not true after {timeout_s} s: {condition_sql}")


def _delete_rows(server: ProductionServer) -> None:
    server.database().execute("DELETE FROM generations_generation WHERE prompt LIKE %s", [f"{PREFIX} %"])


class _PageTimer:
    """Times GET /, /gallery/ and /healthz in turn, one at a time, while a scenario runs."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.times: dict[str, list[float]] = {path: [] for path in PAGES}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def __enter__(self) -> _PageTimer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopping.is_set():
            for path in PAGES:
                started = time.perf_counter()
                self.client.get(path).raise_for_status()
                self.times[path].append((time.perf_counter() - started) * 1000)

    def report(self) -> None:
        for path, times in self.times.items():
            times.sort()
            print(
                f"  GET {path:11} meanwhile, median / p95     {statistics.median(times):8.1f} / {_p(times, 0.95):.1f} ms"
                f" ({len(times)} requests; target p95 < 100 ms)"
            )


class _PeakMemory:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0

    def sample(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)


@contextlib.contextmanager
def _fake_provider(*, latency_s: float) -> Iterator[None]:
    """The fake provider in its own process, as a remote one would be: its work is not the playground's."""
    command = [
        sys.executable, "-m", "tests.fake_provider", "--port", str(PROVIDER_PORT), "--latency", str(latency_s),
        "--api-key", "bench-key", "--image-padding-kb", str(IMAGE_KB),
    ]  # fmt: skip
    provider = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert provider.stdout is not None
    provider.stdout.readline()  # it says where it listens once it does
    try:
        yield
    finally:
        provider.send_signal(signal.SIGTERM)
        provider.wait(timeout=30)


def _p(values: list[float], quantile: float) -> float:
    return values[min(len(values) - 1, round(quantile * (len(values) - 1)))] if values else 0.0


_SETUP = f"""
import json
from django.contrib.auth import get_user_model
from accounts.models import Role
from accounts.services import person_set_role
from generations.models import ApiToken, Generation
from generations.services.tokens import api_token_create
Generation.objects.filter(prompt__startswith={PREFIX!r}).delete()
tokens = []
for index in range({USERS}):
    user, _ = get_user_model().objects.get_or_create(username=f"bench{{index}}")
    user.set_password({PASSWORD!r})
    user.save()
    person_set_role(user=user, role=Role.MEMBER, actor=None, ip=None)
    ApiToken.objects.filter(user=user).delete()
    tokens.append(api_token_create(user=user, name="bench")[1])
print(json.dumps(tokens))
"""

if __name__ == "__main__":
    main()
