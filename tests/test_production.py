"""Production mode end to end: gunicorn started as the Dockerfile does, then a browser, the API, and faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Browser, expect

from tests.conftest import free_port
from tests.fake_provider import TIMEOUT_FAULT_S, FakeProvider
from tests.production import (
    ROOT,
    ProductionServer,
    clean_environment,
    csrf_token,
    first_group,
    post_generation,
)

ADMIN_PASSWORD = "production-admin-password"
READY = {"database": "ok", "storage": "ok", "queue": "ok", "workers": "ok"}


@pytest.fixture
def production(tmp_path, fake_provider: FakeProvider):
    server = ProductionServer(
        var_dir=tmp_path / "var",
        port=free_port(),
        provider_base_url=fake_provider.base_url,
        provider_key=fake_provider.api_key,
        # No spec here is about the deadline: room for a busy machine, and within the fake's hang, so that a
        # timeout fault still ends as a timeout.
        ZIMAGE_DEADLINE_S=str(TIMEOUT_FAULT_S / 2),
        ZIMAGE_MAX_ATTEMPTS="2",
        WORKER_HEARTBEAT_S="0.5",
        WORKER_STALLED_AFTER_S="2",
        # Nor about the provider's pace (tests/test_pacing.py): every call may be at the fake at once, and a
        # prompt the fake always answers with 429 fails after 10 s of waiting instead of half an hour.
        PROVIDER_MAX_CONCURRENT="1000",
        PROVIDER_MAX_PER_MINUTE="100000",
        PROVIDER_WAIT_MAX_S="10",
    )
    try:
        server.prepare()
        yield server
    finally:
        server.close()


@pytest.mark.production
def test_it_serves_the_form_the_api_images_and_static_files_then_stops_cleanly(production, browser: Browser):
    production.manage("migrate", "-v0")
    production.manage(
        "createsuperuser",
        "--no-input",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    production.start()
    context = browser.new_context(base_url=production.url)
    page = context.new_page()
    page.set_default_timeout(20_000)

    page.goto("/")
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Prompt", exact=True).fill("A lighthouse at dusk")
    page.get_by_label("Extend prompt").check()
    page.get_by_role("button", name="Generate").click()
    card = page.locator("#results article").first
    expect(card.locator("img")).to_be_visible()
    expect(card).to_contain_text("Revised prompt")

    page.goto("/settings/tokens/")
    page.get_by_label("Token name").fill("smoke")
    page.get_by_role("button", name="Make a token").click()
    token = page.locator("#new-token").inner_text()
    stylesheet = page.locator("link[rel=stylesheet][href*=playground]").get_attribute("href")
    context.close()

    client = openai.OpenAI(base_url=f"{production.url}/v1", api_key=token)
    result = client.images.generate(model="z-image-turbo", prompt="A fox", size="1024x1024", n=1)
    [item] = result.data or []
    assert item.url
    image = httpx.get(item.url)
    assert image.status_code == 200
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert "immutable" in image.headers["Cache-Control"]

    assert stylesheet
    assert re.fullmatch(r"/static/playground\.[0-9a-f]{12}\.css", stylesheet), "hashed static names"
    static = httpx.get(production.url + stylesheet, headers={"Accept-Encoding": "gzip"})
    assert static.status_code == 200
    assert static.headers["Content-Encoding"] == "gzip"
    assert "max-age=315360000" in static.headers["Cache-Control"]

    # The security middleware, by what it does.
    sign_in_page = httpx.get(f"{production.url}/accounts/login/")
    assert sign_in_page.headers["X-Frame-Options"] == "DENY"
    assert sign_in_page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in sign_in_page.headers["Content-Security-Policy"]
    assert httpx.post(f"{production.url}/generate/", data={"prompt": "A fox"}).status_code == 403, (
        "no CSRF token"
    )

    assert production.stop() == [0, 0], "web and worker stop cleanly on SIGTERM"


# No 429 here: the pace would lower its concurrency to what else was in flight (tests/test_pacing.py), below the
# nine calls the crash spec needs at the provider at once when a busy machine delays the 429's retry.
FAULTS = [
    "",
    "[fault:slow:2]",
    "[fault:timeout]",
    "[fault:503]",
    "[fault:garbage]",
    "[fault:expired-url]",
    "[fault:oversized]",
    "[fault:flaky:502:1]",
]


@pytest.mark.production
def test_after_faults_and_a_killed_worker_every_prompt_ends_final_and_no_file_is_half_written(
    production, fake_provider: FakeProvider
):
    fake_provider.latency_s = 1.0
    all_late_running_within_s = 150  # a bound on a hang
    # The late calls must still be with the provider at the kill, however slowly a busy machine posts and starts
    # the ninth: a deadline past the wait for all nine, and calls the fake answers later still. A timeout fault
    # then ends as the fake hanging up at TIMEOUT_FAULT_S, a dropped connection: one more fault.
    deadline_s = 2 * all_late_running_within_s
    production.env |= {"REQUIRE_LOGIN": "false", "ZIMAGE_DEADLINE_S": str(deadline_s)}
    production.start()
    faulty = [f"Prompt {index} {fault}".strip() for index in range(3) for fault in FAULTS]
    late = [f"Late prompt {index} [fault:slow:{2 * deadline_s}]" for index in range(9)]
    after_the_crash = [f"Queued while no worker ran {index}" for index in range(5)]
    with httpx.Client(base_url=production.url, timeout=30) as client:
        token = csrf_token(client)
        for prompt in faulty:
            post_generation(client, token, prompt)
        # The first answers are in: images stored, faults recorded, retries and timeouts running.
        wait_for(
            production,
            "SELECT count(*) >= 9 FROM generations_generation WHERE status IN ('succeeded', 'failed')",
        )
        for prompt in late:
            post_generation(client, token, prompt)
        wait_for(
            production,
            "SELECT count(*) = 9 FROM generations_generation WHERE prompt LIKE 'Late%' AND status = 'running'",
            timeout_s=all_late_running_within_s,
        )
        production.kill(production.workers[0])
        for prompt in after_the_crash:
            post_generation(client, token, prompt)

        production.start_worker()
        wait_for(
            production,
            "SELECT count(*) = 0 FROM generations_generation WHERE status IN ('queued', 'running')",
            timeout_s=240,  # a bound on a hang: the fake ends every fault left within TIMEOUT_FAULT_S (30 s)
        )
        for row in production.database().execute("SELECT public_id FROM generations_generation"):
            assert client.get(f"/g/{row[0]}/card/").status_code == 200  # what open browsers do
        assert client.get("/").status_code == 200
        assert client.get("/gallery/").status_code == 200
        assert client.get("/readyz").json() == READY

    rows = (
        production.database().execute("SELECT prompt, status, image FROM generations_generation").fetchall()
    )
    assert sorted(prompt for prompt, _, _ in rows) == sorted(faulty + late + after_the_crash), (
        "every prompt is in the database"
    )
    status_of = {prompt: status for prompt, status, _ in rows}
    assert {status_of[prompt] for prompt in late} == {"interrupted"}, "caught mid-call: never re-run blindly"
    assert {status_of[prompt] for prompt in after_the_crash} == {"succeeded"}, "queued work survives"
    assert set(Counter(status_of.values())) == {"succeeded", "failed", "interrupted"}
    media = production.var_dir / "media"
    for _, status, image in rows:
        if status == "succeeded":
            with Image.open(media / image) as stored:
                stored.verify()  # raises on a truncated file
    assert not list(media.rglob(".partial-*")), "no half-written image file"
    assert production.stop() == [0, 0]


@pytest.mark.production
def test_a_stopping_worker_finishes_what_it_runs_and_leaves_the_queue_alone(
    production, fake_provider: FakeProvider
):
    production.env |= {"REQUIRE_LOGIN": "false", "WORKER_CONCURRENCY": "1"}
    production.start()
    with httpx.Client(base_url=production.url, timeout=30) as client:
        token = csrf_token(client)
        post_generation(client, token, "A slow lighthouse [fault:slow:2]")
        post_generation(client, token, "Waits in the queue")
        wait_for(production, "SELECT count(*) = 1 FROM generations_generation WHERE status = 'running'")

        production.workers[0].send_signal(signal.SIGTERM)
        assert production.workers[0].wait(timeout=30) == 0

    statuses = dict(production.database().execute("SELECT prompt, status FROM generations_generation"))
    assert statuses == {"A slow lighthouse [fault:slow:2]": "succeeded", "Waits in the queue": "queued"}


@pytest.mark.production
def test_its_logs_are_json_lines_with_the_request_id_and_never_the_prompt_or_the_key(
    production, fake_provider: FakeProvider, tmp_path
):
    fake_provider.api_key = production.env["ZIMAGE_API_KEY"] = "sk-fake-key-for-the-log-spec"
    production.env |= {"LOG_FORMAT": "json", "REQUIRE_LOGIN": "false"}
    log = tmp_path / "server.log"
    with log.open("w") as output:
        production.start(output=output)
        with httpx.Client(base_url=production.url, headers={"X-Request-ID": "spec-request-7"}) as client:
            created = post_generation(client, csrf_token(client), "A secret lighthouse")
        public_id = first_group(r"/g/([\w-]+)/card/", created.text)
        wait_for(
            production,
            "SELECT status NOT IN ('queued', 'running') FROM generations_generation WHERE public_id = %s",
            [public_id],
        )
        assert production.stop() == [0, 0]
        outcome = production.database().execute(
            "SELECT status, error_message FROM generations_generation WHERE public_id = %s", [public_id]
        )
        assert outcome.fetchone() == ("succeeded", "")

    assert created.headers["X-Request-ID"] == "spec-request-7"
    text = log.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    outcome = next(entry for entry in entries if entry["message"].startswith(f"generation {public_id} "))
    assert outcome["request_id"] == "spec-request-7", "the worker logs with its request's id"
    assert re.search(
        r"succeeded in \d+ ms \(queued \d+ ms, provider \d+ ms, image fetch \d+ ms", outcome["message"]
    )
    assert "lighthouse" not in text
    assert "sk-fake-key-for-the-log-spec" not in text


@pytest.mark.production
def test_the_web_workers_stop_when_their_master_is_killed(production):
    production.start()
    master = production.web.pid
    workers = children(master)
    assert len(workers) == 2

    os.kill(master, signal.SIGKILL)  # the master alone, as an OOM kill would
    production.web.wait(timeout=10)

    deadline = time.monotonic() + 30
    while any(is_running(pid) for pid in workers):
        assert time.monotonic() < deadline, f"orphaned web workers still serve: {workers}"
        time.sleep(0.1)


@pytest.mark.production
def test_a_killed_web_worker_under_waiting_sdk_calls_costs_no_prompt_twice(
    production, fake_provider: FakeProvider
):
    """The official SDK at its defaults resends a call whose connection dropped; the retry gets the first
    call's outcome instead of a second paid image."""
    fake_provider.latency_s = 3.0
    # Room for a busy machine: this spec is about the web, not about stalled workers or provider timeouts.
    production.env |= {"ZIMAGE_DEADLINE_S": "60", "WORKER_HEARTBEAT_S": "5", "WORKER_STALLED_AFTER_S": "30"}
    production.manage("migrate", "-v0")
    token = production.manage("shell", "--no-imports", "-c", MAKE_TOKEN).strip()
    production.start()
    client = openai.OpenAI(base_url=f"{production.url}/v1", api_key=token)  # max_retries=2, the default
    prompts = [f"Waiting call {index}" for index in range(40)]

    def call(prompt: str) -> str | None:
        [image] = client.images.generate(model="z-image-turbo", prompt=prompt, size="1024x1024").data or []
        return image.url

    assert production.web is not None
    with ThreadPoolExecutor(max_workers=len(prompts)) as pool:
        answers = pool.map(call, prompts)
        wait_for(production, "SELECT count(*) = 40 FROM generations_generation")
        os.kill(children(production.web.pid)[0], signal.SIGKILL)
        urls = list(answers)

    assert len(set(urls)) == 40, "every call answered with its own image"
    assert Counter(body["prompt"] for body in fake_provider.requests) == Counter(prompts), "each prompt once"
    [[rows]] = production.database().execute("SELECT count(*) FROM generations_generation").fetchall()
    assert rows == 40


MAKE_TOKEN = """
from django.contrib.auth import get_user_model
from accounts.models import Role
from accounts.services import person_set_role
from generations.services.tokens import api_token_create
caller = get_user_model().objects.create_user("caller")
person_set_role(user=caller, role=Role.MEMBER, actor=None, ip=None)
print(api_token_create(user=caller, name="spec")[1])
"""


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def is_running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie waiting to be reaped has)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_for(
    production: ProductionServer, condition_sql: str, params: list | None = None, timeout_s: float = 60
) -> None:
    """Wait until a SQL condition holds (checked every 50 ms), failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    with production.database() as database:
        while time.monotonic() < deadline:
            row = database.execute(condition_sql, params).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"still not true after {timeout_s} s: {condition_sql}")


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = (
        clean_environment() | {"DJANGO_SETTINGS_MODULE": "playground.settings", "DEBUG": "false"} | env
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=environment, cwd=ROOT, capture_output=True, text=True
    )


PRODUCTION_ENV = {
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "playground.example.com",
    "HTTPS": "true",
}


@pytest.mark.production
def test_the_documented_production_settings_pass_the_deploy_checks():
    completed = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.production
@pytest.mark.parametrize(
    ("missing", "message"), [("SECRET_KEY", "Set SECRET_KEY"), ("ALLOWED_HOSTS", "Set ALLOWED_HOSTS")]
)
def test_production_settings_fail_fast_without_a_secret(missing, message):
    completed = run_manage("check", **(PRODUCTION_ENV | {missing: ""}))
    assert completed.returncode != 0
    assert message in completed.stderr


@pytest.mark.production
def test_naming_a_bucket_switches_images_to_object_storage():
    completed = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.STORAGES['default']['BACKEND'])",
        **PRODUCTION_ENV,
        S3_BUCKET="playground-images",
    )
    assert completed.stdout.strip().endswith("storages.backends.s3.S3Storage"), completed.stderr


@pytest.mark.production
def test_collecting_static_files_needs_no_database_and_starts_none(tmp_path):
    completed = run_manage(
        "collectstatic",
        "--no-input",
        "-v0",
        **(PRODUCTION_ENV | {"VAR_DIR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static")}),
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "static").is_dir()
    assert not (tmp_path / "pgdata").exists(), "settings start nothing; only a connection would"


@pytest.mark.django_db
def test_the_migrations_describe_the_models_exactly():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
