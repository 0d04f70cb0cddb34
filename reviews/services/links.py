"""A board's share links: make one (label, scope, audience), switch it on or off, delete it."""

from __future__ import annotations

from reviews.models import Board, BoardShareLink
from reviews.people import Person


def share_link_create(
    *, board: Board, person: Person, label: str, scope: str, audience: str
) -> BoardShareLink:
    return BoardShareLink.objects.create(
        board=board, label=label, scope=scope, audience=audience, created_by=person.user
    )


def share_link_switch(*, link: BoardShareLink, active: bool) -> BoardShareLink:
    """Switch a link on or off: off, it answers 404 at once, and on again it opens as before."""
    link.is_active = active
    link.save(update_fields=["is_active"])
    return link


def share_link_delete(*, link: BoardShareLink) -> None:
    link.delete()
