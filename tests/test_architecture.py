"""The house's floors: imports only go down (docs/design.md, "The floors").

playground/ (the shell: settings, urls, middleware, errors, sign-in)
  → accounts/ (people: roles, invites, the audit trail), beside the app and above it
  → reviews/ (boards, ratings, comments: a room beside generations, which it may use and which never uses it)
      views, image_views, review_views, share_views, templatetags, http (its view kit) → forms
      → selectors and services/ → people, models → domain
  → generations/ views, gallery_views, batch_views, api, metrics, http (the view kit)
  → forms → selectors (reads) and services/ (use cases)
  → tasks (the job engine's entry points)
  → provider/ (the only code that speaks HTTP to the provider), images.py
  → models, batch_plan, search, hooks (what other rooms register) → domain
  → lib/ (beneath the app and the shell)

judging/ (blind judging rounds) is a room of its own above generations/: it may use generations, never the
reverse, and has the same floors inside (views, urls → forms → selectors and services → models, pairing, fit,
costs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

VIEWS = (
    "generations.views",
    "generations.gallery_views",
    "generations.batch_views",
    "generations.api",
    "generations.api_fields",
)
USE_CASES_AND_ABOVE = (
    *VIEWS,
    "generations.http",
    "generations.forms",
    "generations.metrics",
    "generations.urls",
    "generations.services",
)
REVIEWS_VIEWS = (
    "reviews.views",
    "reviews.image_views",
    "reviews.review_views",
    "reviews.share_views",
    "reviews.urls",
    "reviews.templatetags",
    "reviews.context_processors",
    "reviews.generation_hooks",
)
REVIEWS_USE_CASES_AND_ABOVE = (*REVIEWS_VIEWS, "reviews.http", "reviews.forms", "reviews.services")
# Each floor, and what it must never import.
JUDGING_ABOVE_THE_MODELS = (
    "judging.views",
    "judging.urls",
    "judging.forms",
    "judging.templatetags",
    "judging.selectors",
    "judging.services",
)
FORBIDDEN = {
    "lib": ("generations", "judging", "accounts", "reviews", "playground"),
    # generations meets the reviews only through hooks the reviews register (docs/design.md, "Two rooms").
    "generations": ("judging", "accounts", "reviews", "playground"),
    # People sit beside the app: they read its rows and grant its permission, never the reverse.
    "accounts": ("judging", "reviews", "playground"),
    "judging": ("playground", "reviews"),
    "judging.models": JUDGING_ABOVE_THE_MODELS,
    "judging.pairing": (*JUDGING_ABOVE_THE_MODELS, "judging.models", "django.db"),
    "judging.fit": (*JUDGING_ABOVE_THE_MODELS, "judging.models", "django"),
    "judging.selectors": ("judging.views", "judging.urls", "judging.forms", "judging.services"),
    "judging.services": ("judging.views", "judging.urls", "judging.forms"),
    "judging.forms": ("judging.views", "judging.urls"),
    "reviews": ("playground", "judging"),
    "reviews.domain": ("reviews.models", "reviews.services", "reviews.selectors", "django.db"),
    "reviews.models": (*REVIEWS_USE_CASES_AND_ABOVE, "reviews.selectors", "reviews.people"),
    "reviews.people": (*REVIEWS_USE_CASES_AND_ABOVE, "reviews.selectors"),
    "reviews.gallery_order": REVIEWS_USE_CASES_AND_ABOVE,
    "reviews.selectors": REVIEWS_USE_CASES_AND_ABOVE,
    "reviews.services": (
        *REVIEWS_VIEWS,
        "reviews.http",
        "reviews.forms",
        "generations.http",
        "generations.forms",
    ),
    "reviews.forms": (*REVIEWS_VIEWS, "reviews.http", "reviews.services"),
    "reviews.http": REVIEWS_VIEWS,
    "reviews.apps": (),
    "generations.domain": ("generations.models", "generations.services", "generations.provider", "django.db"),
    "generations.models": (
        *USE_CASES_AND_ABOVE,
        "generations.selectors",
        "generations.tasks",
        "generations.provider",
    ),
    "generations.batch_plan": (*USE_CASES_AND_ABOVE, "generations.selectors", "generations.tasks"),
    # The hooks other rooms register with (and generations calls) sit on the models' floor.
    "generations.hooks": (
        *USE_CASES_AND_ABOVE,
        "generations.selectors",
        "generations.tasks",
        "generations.provider",
    ),
    "generations.provider": (
        *USE_CASES_AND_ABOVE,
        "generations.selectors",
        "generations.tasks",
        "generations.models",
    ),
    "generations.images": (
        *USE_CASES_AND_ABOVE,
        "generations.selectors",
        "generations.tasks",
        "generations.provider",
    ),
    "generations.tasks": USE_CASES_AND_ABOVE,
    # The provider's pace for the cluster: beneath the job engine's tasks, which ask it for turns.
    "generations.pacing": (*USE_CASES_AND_ABOVE, "generations.selectors", "generations.tasks"),
    "generations.money": (
        *USE_CASES_AND_ABOVE,
        "generations.selectors",
        "generations.tasks",
        "generations.provider",
        "generations.models",
    ),
    "generations.selectors": (*USE_CASES_AND_ABOVE, "generations.tasks"),
    "generations.services": (*VIEWS, "generations.http", "generations.forms", "generations.metrics"),
    "generations.forms": (*VIEWS, "generations.http"),
    # Views reach the provider only through the use cases.
    **{view: ("generations.provider",) for view in VIEWS},
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("lib", "generations", "accounts", "judging", "reviews"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found.append((name, path))
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_only_go_down_a_floor(module, path):
    rules = [(floor, banned) for floor, banned in FORBIDDEN.items() if is_within(module, floor)]
    assert rules, f"{module} belongs to no floor: add it to FORBIDDEN"
    upward = sorted(
        name
        for name in imported(path)
        for floor, banned in rules
        for package in banned
        if is_within(name, package) and not is_within(name, floor)
    )
    assert upward == [], f"{module} imports up a floor: {upward}"
