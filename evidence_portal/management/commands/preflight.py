"""``manage.py preflight``: check that the database, Redis, the broker and the search backend answer."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evidence_portal import preflight


class Command(BaseCommand):
    help = "Check the services the settings name; print one line per problem and fail if there is one."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        found = preflight.problems()
        if found:
            for line in found[1:]:
                self.stderr.write(line)
            raise CommandError(found[0], returncode=3)
        self.stdout.write("preflight: database, broker and search backend answer")
