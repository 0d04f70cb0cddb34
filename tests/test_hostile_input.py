"""Hostile input gets a clear answer, never a server error, and nothing is recorded half-way.

The walk takes every route from the URL resolver (a route added later is walked without being listed here), plus
the probes that a middleware answers, and sends each hostile value in the path, the query string, an urlencoded
form, a multipart form, a JSON body (as values and as a field's name) and each header the playground or its
middleware reads, as an anonymous visitor and as a signed-in staff member, to the playground served as in
production (ASGI; no worker, so that what a request queued stays as it recorded it). A generation's routes name
a real batch cell, a batch's routes its batch.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes

import httpx
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.regex_helper import normalize
from procrastinate.contrib.django.models import ProcrastinateJob
from psycopg import sql

from generations.models import Batch, Generation
from generations.services.generation_files import generation_thumbnail
from generations.services.tokens import api_token_create
from lib.untrusted_text import MAX_TEXT_CHARS
from reviews.models import Board, BoardShareLink, LinkScope
from tests.factories import finish, make_generation


@dataclass(frozen=True, slots=True)
class Hostile:
    name: str
    raw: bytes  # as a URL or a UTF-8 body carries it (lone surrogates as their three-byte WTF-8 form)
    text: str | None = None  # as a decoder can deliver it, where one can (a JSON escape, a declared charset)

    @property
    def in_url(self) -> str:
        return quote_from_bytes(self.raw, safe="")

    @property
    def fits_in_a_url(self) -> bool:
        return len(self.in_url) <= URL_BUDGET

    @property
    def fits_in_a_header(self) -> bool:
        """HTTP forbids NUL in a header (clients refuse to send it); longer values are walked, up to the URL's
        budget (servers refuse longer headers with a 4xx)."""
        return b"\x00" not in self.raw and len(self.raw) <= URL_BUDGET

    @property
    def in_json(self) -> bytes:
        return json.dumps(self.text).encode() if self.text is not None else b'"' + self.raw + b'"'

    @property
    def in_escaped_multipart(self) -> bytes:
        """For a multipart body that declares `charset=unicode_escape`."""
        return self.text.encode("unicode_escape") if self.text is not None else self.raw


HOSTILE_VALUES = [
    Hostile("NUL", b"\x00", "\x00"),
    Hostile("invalid UTF-8", b"\xff"),
    Hostile("lone surrogate", b"\xed\xa0\x80", "\ud800"),
    Hostile("10,000 characters", b"x" * 10_000, "x" * 10_000),
    Hostile("over the length cap", b"y" * (MAX_TEXT_CHARS + 1), "y" * (MAX_TEXT_CHARS + 1)),
    Hostile("not a number", b"abc", "abc"),
    Hostile("a huge number", b"9" * 30, "9" * 30),
]
# httpx refuses URLs over 64 KiB (and proxies far shorter ones): longer values are walked in bodies only.
URL_BUDGET = 60_000
# Every name a view, form or the admin reads from a query string or a form, plus a few generic ones.
QUERY_FIELDS = {
    "from": "{}",
    "id": "{}",
    "after": "1.{}",
    "until": "1.{}",
    "q": "{}",
    "owner": "{}",
    "status": "{}",
    "ratio": "{}",
    "extend": "{}",
    "favourites": "{}",
    "large": "{}",
    "next": "{}",
    "o": "{}",
    "p": "{}",
    "e": "{}",
    "_changelist_filters": "{}",
    "created_at__year": "{}",
    "x": "{}",
    "y": "{}",
    "sort": "{}",
    "download": "{}",
    "min_mean": "{}",
    "mine": "{}",
    "part": "{}",
    "item": "{}",
    "at": "{}",
    "smart": "{}",
    "rated": "{}",
    "mean": "{}",
    "board": "{}",
    "before": "{}",
    "state": "{}",
    "code": "{}",
    "error": "{}",
}
FORM_FIELDS = [
    "prompt",
    "prompts",
    "size",
    "sizes",
    "custom_size",
    "custom_sizes",
    "seed",
    "seed_count",
    "seed_list",
    "prompt_extend",
    "extend",
    "name",
    "token",
    "favourite",
    "confirm_favourite",
    "username",
    "password",
    "password1",
    "password2",
    "old_password",
    "new_password1",
    "new_password2",
    "note",
    "role",
    "user",
    "active",
    "invite",
    "next",
    "action",
    "_selected_action",
    "index",
    "id",
    "operation",
    "confirmed",
    "confirm_favourites",
    "text",
    "reply_to",
    "value",
    "status",
    "board",
    "new_board",
    "description",
    "smart_query",
    "label",
    "scope",
    "audience",
    "active",
    "username",
    "remove",
    "to",
    "at",
]
JSON_FIELDS = ["prompt", "size", "response_format", "n"]
# Every request header that the playground, Django, django-htmx, django-axes or uvicorn reads: each carries the
# hostile value in a request of its own (NUL cannot be sent in a header: HTTP forbids it).
HEADERS = {
    "Authorization": "Bearer {}",
    "Referer": "http://127.0.0.1/gallery/?q={}",
    "Cookie": "csrftoken={0}; messages={0}; sessionid={0}",
    "X-Forwarded-For": "{}",
    "X-Forwarded-Proto": "{}",
    "X-Request-ID": "{}",
    "Idempotency-Key": "{}",
    "X-Stainless-Retry-Count": "{}",
    "HX-Request": "{}",
    "HX-Target": "{}",
    "HX-Current-URL": "{}",
}
WHO = ("anonymous", "staff")
# `make test` walks every route in every place, each route with two of the hostile values in turn (so each value
# reaches each place on two sevenths of the routes): the whole cross product is some 27,000 requests, over eight
# minutes on a 2-core machine. `HOSTILE_WALK=full make test` walks it whole.
FULL_WALK = os.environ.get("HOSTILE_WALK") == "full"


def values_for(route_number: int) -> list[Hostile]:
    if FULL_WALK:
        return HOSTILE_VALUES
    count = len(HOSTILE_VALUES)
    return [HOSTILE_VALUES[route_number % count], HOSTILE_VALUES[(route_number + 3) % count]]


# The probes are answered by a middleware, before the URL resolver.
PROBES = ["/healthz", "/readyz"]
# A value each path parameter takes when another part of the request is the hostile one: a generation's public id
# is the walk's own generation; other ids name nothing, so that the admin's delete pages delete nobody.
PATH_VALUES = {"app_label": "generations", "url": "nothing-here/"}
NO_SUCH_ID = "987654321"
CSRF_SECRET = "a" * 32


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    template: str  # "/g/%(public_id)s/"
    parameters: list[str]


def every_route() -> list[Route]:
    """Every URL pattern of the project, as a path template, found the way Django's own reverse() finds them."""

    def walk(patterns, prefix: str, names: str):
        for pattern in patterns:
            regex = prefix + pattern.pattern.regex.pattern.removeprefix("^")
            if isinstance(pattern, URLResolver):
                namespace = f"{names}{pattern.namespace}:" if pattern.namespace else names
                yield from walk(pattern.url_patterns, regex, namespace)
            elif isinstance(pattern, URLPattern):
                for template, parameters in normalize(regex):
                    yield Route(f"{names}{pattern.name or '(unnamed)'}", "/" + template, parameters)

    return list(walk(get_resolver().url_patterns, "", ""))


@dataclass
class Walker:
    base_url: str
    http: httpx.Client
    target: Generation
    sessions: dict[str, str]
    api_tokens: dict[str, str]
    server_errors: list[str]
    half_recorded: list[str]
    # What the walk's own things are called in paths (its generation, and a board and link of the same public id).
    path_values: dict[str, str]
    requests: int = 0
    places: set[str] = field(default_factory=set)

    def path(self, route: Route, **hostile: str) -> str:
        values = {
            name: self.path_values.get(name, PATH_VALUES.get(name, NO_SUCH_ID)) for name in route.parameters
        }
        batch = self.target.batch
        ids = batch.public_id if batch and route.template.startswith("/b/") else self.target.public_id
        values |= {name: ids for name in ("public_id", "other_id") if name in values}
        return route.template % (values | hostile)

    def send(self, who: str, route: Route, where: str, value: str, method: str, url: str, **options) -> None:
        cookies = f"csrftoken={CSRF_SECRET}"
        if self.sessions.get(who):
            cookies += f"; sessionid={self.sessions[who]}"
        headers = {"Cookie": cookies, "X-CSRFToken": CSRF_SECRET}
        if self.api_tokens.get(who):
            headers["Authorization"] = f"Bearer {self.api_tokens[who]}"
        headers |= options.pop("headers", {})
        before = record_counts()
        with self.http.stream(method, self.base_url + url, headers=headers, **options) as response:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
        self.requests += 1
        self.places.add(where.split(" <")[0])
        case = f"{who} {method} {route.name} ({route.template}) {value} in {where}: {response.status_code}"
        if response.status_code >= 500:
            self.server_errors.append(case)
        elif response.status_code >= 400 and record_counts() != before:
            self.half_recorded.append(case)
        self.after(who, response)

    def after(self, who: str, response: httpx.Response) -> None:
        """Undo what a request may legitimately change that later ones rely on: a deletion, a sign-out (a GET
        changes nothing)."""
        if response.request.method == "GET":
            return
        Generation.objects.filter(pk=self.target.pk).update(deleted_at=None)
        walk_board(self.target)
        if who == "staff":
            renewed = response.cookies.get("sessionid")
            if renewed is not None or not session_exists(self.sessions[who]):
                self.sessions[who] = renewed or staff_session()


def record_counts() -> tuple[int, ...]:
    """Rows of everything the playground records (not sessions, sign-in attempts or the queue's finished jobs),
    counted in one statement: the walk asks after every refused request."""
    tables = [
        model._meta.db_table
        for app in ("generations", "reviews")
        for model in apps.get_app_config(app).get_models()
    ]
    counts = sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(t)) for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {}").format(counts))
        return tuple(cursor.fetchone())


WALK_TOKEN = "w" * 43


def walk_board(target: Generation) -> None:
    """A board named like the walk's generation (so that the board's routes find it), holding it, with a share
    link that takes comments: made again whenever a request deleted it (as its owner, staff may)."""
    board, _ = Board.objects.get_or_create(public_id=target.public_id, defaults={"name": "Walked"})
    board.items.get_or_create(generation=target, defaults={"position": 1})
    BoardShareLink.objects.update_or_create(
        token=WALK_TOKEN, defaults={"board": board, "scope": LinkScope.COMMENT, "is_active": True}
    )


def session_exists(key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_session WHERE session_key = %s", [key])
        return cursor.fetchone() is not None


def staff_session() -> str:
    client = Client()
    client.force_login(get_user_model().objects.get(username="staff"))
    return client.cookies["sessionid"].value


def query_strings(hostile: Hostile) -> list[str]:
    """The hostile value in every query field, over as few URLs as keep each within the budget."""
    if not hostile.fits_in_a_url:
        return []
    fields = [f"{name}={shape.format(hostile.in_url)}" for name, shape in QUERY_FIELDS.items()]
    per_url = max(URL_BUDGET // len(fields[0]), 1)
    return ["&".join(fields[start : start + per_url]) for start in range(0, len(fields), per_url)]


def multipart(fields: list[str], value: bytes) -> bytes:
    parts = [
        b'--hostile\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name in fields
    ]
    return b"".join(parts) + b"--hostile--\r\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_answers_every_route_with_hostile_input_without_a_server_error(
    asgi_server, demo_mode, django_user_model, record_property
):
    staff = django_user_model.objects.create_superuser("staff", password=secrets.token_urlsafe())
    target, twin = make_generation(seed=7), make_generation(seed=7)
    for generation in (target, twin):  # the same image and thumbnail: deleting the target leaves its files
        generation_thumbnail(generation=finish(generation))
    batch = Batch.objects.create(
        prompts=[target.prompt], seeds=[target.seed], sizes=[target.size], extend_modes=[False]
    )
    Generation.objects.filter(pk=target.pk).update(batch=batch, cell_index=0)
    target.refresh_from_db()
    routes = every_route() + [Route(f"probe {path}", path, []) for path in PROBES]
    first_new_pk = (Generation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    walker = Walker(
        base_url=asgi_server,
        http=httpx.Client(timeout=30),
        target=target,
        sessions={"anonymous": "", "staff": staff_session()},
        api_tokens={"anonymous": "", "staff": api_token_create(user=staff, name="walk")[1]},
        server_errors=[],
        half_recorded=[],
        path_values={"public_id": target.public_id, "generation_id": target.public_id, "token": WALK_TOKEN},
    )
    walk_board(target)
    oversized = b"z" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    for who in WHO:
        for number, route in enumerate(routes):
            for hostile in values_for(number):
                for parameter in route.parameters if hostile.fits_in_a_url else []:
                    url = walker.path(route, **{parameter: hostile.in_url})
                    walker.send(who, route, f"path <{parameter}>", hostile.name, "GET", url)
                for query in query_strings(hostile):
                    walker.send(who, route, "query", hostile.name, "GET", f"{walker.path(route)}?{query}")
                form = "&".join(f"{name}={hostile.in_url}" for name in FORM_FIELDS)
                walker.send(
                    who,
                    route,
                    "form",
                    hostile.name,
                    "POST",
                    walker.path(route),
                    content=form.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                walker.send(
                    who,
                    route,
                    "multipart form",
                    hostile.name,
                    "POST",
                    walker.path(route),
                    content=multipart(FORM_FIELDS, hostile.in_escaped_multipart),
                    headers={"Content-Type": "multipart/form-data; boundary=hostile; charset=unicode_escape"},
                )
                body = b'{"model": "z-image-turbo", ' + b", ".join(
                    json.dumps(name).encode() + b": " + hostile.in_json for name in JSON_FIELDS
                )
                body += b', "parameters": {"seed": ' + hostile.in_json + b"}}"
                walker.send(
                    who,
                    route,
                    "JSON body",
                    hostile.name,
                    "POST",
                    walker.path(route),
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                walker.send(
                    who,
                    route,
                    "JSON field name",
                    hostile.name,
                    "POST",
                    walker.path(route),
                    content=b'{"model": "z-image-turbo", "prompt": "A fox", ' + hostile.in_json + b": 1}",
                    headers={"Content-Type": "application/json"},
                )
                # Each header on its own, once per value: a visitor's GET or a staff member's POST, in turn.
                headers_now = hostile.fits_in_a_header and HOSTILE_VALUES.index(hostile) % 2 == WHO.index(who)
                for name, shape in HEADERS.items() if headers_now else ():
                    walker.send(
                        who,
                        route,
                        f"header {name}",
                        hostile.name,
                        "GET" if who == "anonymous" else "POST",
                        walker.path(route),
                        headers={
                            name: shape.encode().replace(b"{}", hostile.raw).replace(b"{0}", hostile.raw)
                        },
                    )
            for where, content_type, content in (
                ("JSON body", "application/json", b"[" * 100_000 + b"]" * 100_000),
                ("JSON body", "application/json", oversized),
                ("form", "application/x-www-form-urlencoded", b"prompt=" + oversized),
            ):
                label = "deep JSON" if content.startswith(b"[") else "an oversized body"
                walker.send(
                    who,
                    route,
                    where,
                    label,
                    "POST",
                    walker.path(route),
                    content=content,
                    headers={"Content-Type": content_type},
                )

    walker.http.close()
    summary = (
        f"{len(routes)} routes x {len(values_for(0))} of {len(HOSTILE_VALUES)} hostile values each "
        "(+ deep JSON, oversized bodies) x "
        f"{len(walker.places)} places (path, query, form, multipart form, JSON body, JSON field name, "
        f"{len(HEADERS)} headers), anonymous and staff: {walker.requests} requests, "
        f"{len(walker.server_errors)} server errors, {len(walker.half_recorded)} half-recorded"
    )
    print(summary, *walker.server_errors, *walker.half_recorded, sep="\n")
    record_property("hostile_input", summary)
    assert "\n".join(walker.server_errors) == ""
    assert walker.half_recorded == []
    made = Generation.objects.filter(pk__gte=first_new_pk)
    queued = ProcrastinateJob.objects.filter(id__in=made.values("job_id"), status="todo")
    assert made.count() == queued.count(), "every generation the walk made is queued with its job"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/?from=%00",
        "/compare/?id=%00",
        "/gallery/?after=1.%00",
        "/gallery/?q=%00",
        "/gallery/?q=a&owner=mine&status=%00",
        "/usage/?x=%00",
        "/accounts/login/?next=%00",
    ],
)
def test_it_answers_nul_in_a_query_string_with_the_sites_own_400(client, url):
    response = client.get(url)

    assert response.status_code == 400
    assert "This request could not be taken" in response.text
    assert "contains a NUL character" in response.text
    assert "playground.css" in response.text, "the site's own page"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/g/%00/", "/g/%00/retry/", "/admin/generations/generation/%00/change/"])
def test_it_answers_nul_in_a_path_with_the_sites_own_404(admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 404
    assert "Nothing here" in response.text


@pytest.mark.django_db
def test_it_refuses_a_form_whose_declared_charset_smuggles_in_a_lone_surrogate(client, demo_mode):
    body = multipart(["prompt", "size"], b"A fox \\ud800")
    response = client.generic(
        "POST",
        reverse("generations:new"),
        body,
        content_type="multipart/form-data; boundary=hostile; charset=unicode_escape",
    )

    assert response.status_code == 400
    assert "`prompt` contains a lone surrogate" in response.text
    assert Generation.objects.count() == 0


@pytest.mark.django_db
def test_it_answers_a_token_that_is_not_a_number_with_400(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("alice"))

    response = client.post(reverse("generations:api-token-revoke"), {"token": "abc"})

    assert response.status_code == 400
    assert "playground.css" in response.text


@pytest.mark.django_db
def test_it_ignores_a_cookie_that_is_not_text(client):
    client.cookies["sessionid"] = '"\\000abcdefghijk"'  # a quoted cookie's octal escape: a NUL once unquoted

    assert client.get(reverse("generations:gallery")).status_code == 200


@pytest.mark.django_db
def test_it_answers_an_oversized_form_with_413_in_the_sites_own_page(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = client.post(reverse("generations:new"), {"prompt": "x" * 2000})

    assert response.status_code == 413
    assert "larger than 1,000 bytes" in response.text
    assert "playground.css" in response.text


@pytest.fixture
def api_client(served: httpx.Client, django_user_model) -> httpx.Client:
    _token, plaintext = api_token_create(user=django_user_model.objects.create_user("alice"), name="tests")
    served.headers["Authorization"] = f"Bearer {plaintext}"
    return served


def api_post(client: httpx.Client, body: bytes, path: str = "/v1/images/generations") -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"model": "z-image-turbo", "prompt": "A fox \\u0000"}', "prompt"),
        (b'{"model": "z-image-turbo", "prompt": "A fox \\ud800"}', "prompt"),
        (json.dumps({"model": "z-image-turbo", "prompt": "x" * 4001}).encode(), "prompt"),
        (b'{"model": "z-image-turbo", "prompt": "A fox", "size": "1024x\\u0000"}', "size"),
        (
            b'{"model": "z-image-turbo", "prompt": "A fox", "parameters": {"seed": "\\ud800"}}',
            "parameters.seed",
        ),
    ],
)
def test_the_api_names_the_field_that_is_not_text_and_records_nothing(api_client, body, param):
    response = api_post(api_client, body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert Generation.objects.count() == 0


def test_the_api_answers_deep_json_with_400_instead_of_a_recursion_error(api_client):
    response = api_post(api_client, b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_the_api_answers_an_oversized_body_with_an_openai_shaped_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api_post(api_client, json.dumps({"model": "z-image-turbo", "prompt": "x" * 2000}).encode())

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert Generation.objects.count() == 0


def test_the_api_names_a_query_parameter_that_is_not_text(api_client):
    response = api_client.get("/v1/models?api_key=%00")

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "api_key"


def test_an_unknown_api_endpoint_is_an_openai_shaped_404(api_client):
    response = api_client.get("/v1/images/edits")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_walk_finds_every_route_with_its_parameters():
    routes = {route.name: route for route in every_route()}

    assert {"generations:home", "api-image-generations", "admin:index", "login", "logout"} <= routes.keys()
    retry = routes["generations:retry"]
    assert retry.template % {"public_id": "abc"} == reverse("generations:retry", args=["abc"])
    assert routes["admin:app_list"].parameters == ["app_label"]
