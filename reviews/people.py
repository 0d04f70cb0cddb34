"""Who acts: a signed-in user, or a guest (see reviews/models.py). Neither is an anonymous visitor, who may look
where a page is open to them and do nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from reviews.models import ByPerson, Guest


@dataclass(frozen=True, slots=True)
class Person:
    user: User | None = None
    guest: Guest | None = None

    @property
    def is_someone(self) -> bool:
        return self.user is not None or self.guest is not None

    @property
    def is_staff(self) -> bool:
        return bool(self.user is not None and getattr(self.user, "is_staff", False))

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return str(self.guest) if self.guest is not None else ""

    @property
    def as_author(self) -> dict[str, Any]:
        """The person as a ByPerson row's two fields."""
        return {"user": self.user, "guest": self.guest}

    def wrote(self, row: ByPerson) -> bool:
        if self.user is not None:
            return row.user_id == self.user.pk
        return self.guest is not None and row.guest_id == self.guest.pk


NOBODY = Person()
