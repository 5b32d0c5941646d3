from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from evidence_portal.bootstrap import run_bootstrap


class Command(BaseCommand):
    help = "Seed an empty database (EVIDENCE_SEED), grade, train the design classifier and build the index."

    def handle(self, *args: Any, **options: Any) -> None:
        for line in run_bootstrap().lines:
            self.stdout.write(line)
