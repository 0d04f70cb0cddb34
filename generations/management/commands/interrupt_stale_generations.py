from __future__ import annotations

from django.core.management.base import BaseCommand

from generations.services.generations import generations_interrupt_stale


class Command(BaseCommand):
    help = "Mark generations left pending by a process that stopped as interrupted, so they can be retried."

    def handle(self, *args, **options) -> None:
        count = generations_interrupt_stale()
        self.stdout.write(f"{count} stale pending generation(s) marked interrupted.")
