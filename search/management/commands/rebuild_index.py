"""Rebuild the search index from the database through a new generation (zero downtime)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from search.backends.base import SearchBackendError
from search.indexing import rebuild_index


class Command(BaseCommand):
    help = "Build a new index generation from the database, verify it, switch to it, drop the old one."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = rebuild_index()
        except SearchBackendError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"generation {report.generation}: {report.indexed} records, {report.with_vectors} with vectors; "
            f"dropped {len(report.dropped)} old generation(s)"
        )
