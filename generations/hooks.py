"""Hooks: how another room (app) adds to the ways generations are asked for without generations importing it.

A room registers an extra here when Django starts (in its AppConfig.ready); generations calls what is registered
at the named points, and does nothing more when nothing is. Today the reviews room registers three: "board", so
that images asked for by the form, the batch form or /v1 (`extra_body={"board": ...}`) land on a board as they
are made; the gallery's filters and orders by board and ratings; and a board as a set of images that a third room
(judging) may take without knowing the reviews.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import HttpRequest

from generations.models import Generation


@dataclass(frozen=True, slots=True)
class GenerationExtra:
    """A field beside a generation's parameters, and what to do with the generations made with it.

    `form_field` is the field the forms show to the person behind a request (None: none for them); `from_api`
    checks the value of the same name in an API body for a user (ValueError says why it is refused); `attach`
    is called with the checked value and the generations just recorded, in the transaction that queues them, so
    a refusal (any ValueError) rolls the whole request back before anything is sent.
    """

    name: str
    form_field: Callable[[HttpRequest], forms.Field | None]
    from_form: Callable[[HttpRequest, Any], Any]
    from_api: Callable[[object, User | AnonymousUser], Any]
    attach: Callable[[Any, Sequence[Generation]], None]


GENERATION_EXTRAS: dict[str, GenerationExtra] = {}


def register_generation_extra(extra: GenerationExtra) -> None:
    GENERATION_EXTRAS[extra.name] = extra


@dataclass(frozen=True, slots=True)
class GalleryRefinement:
    """What another room does to a gallery page: narrow its generations (filters of its own), and page them in
    an order of its own (`page` returns the rows, the cursor of the next page or None, and where this one ends)."""

    narrow: Callable[[QuerySet[Generation]], QuerySet[Generation]] | None = None
    page: (
        Callable[[QuerySet[Generation], str, int], tuple[list[Generation], str | None, str | None]] | None
    ) = None


@dataclass(frozen=True, slots=True)
class GalleryExtra:
    """Filters another room adds to the gallery: `fields` for its filter form (they live in the query string
    like the gallery's own), and the refinement their values ask of a request's gallery (None: nothing)."""

    fields: Callable[[], dict[str, forms.Field]]
    refinement: Callable[[HttpRequest, dict[str, Any]], GalleryRefinement | None]


GALLERY_EXTRAS: list[GalleryExtra] = []


def register_gallery_extra(extra: GalleryExtra) -> None:
    GALLERY_EXTRAS.append(extra)


@dataclass(frozen=True, slots=True)
class ImageSet:
    """Images another room keeps together (a board), as a third room (judging) takes them: in words, its page,
    and its images in their order."""

    described_as: str
    url: str
    generations: list[Generation]


# By the query parameter that names a set (`?board=<public id>`): what finds it for a request from that value,
# raising Http404 or PermissionDenied when there is none the request's person may see.
IMAGE_SETS: dict[str, Callable[[HttpRequest, str], ImageSet]] = {}


def register_image_set(kind: str, find: Callable[[HttpRequest, str], ImageSet]) -> None:
    IMAGE_SETS[kind] = find
