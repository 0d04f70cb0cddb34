from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "On an instance with no accounts yet, make a local administrator and print its password once."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model().objects
        if users.exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Made the local account 'admin' with password {password}\n"
                "  (shown this once; change it in the admin at /admin/).\n"
            )
        )
