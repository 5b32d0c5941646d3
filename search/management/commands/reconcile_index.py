"""Compare the search index with the database; repair drift with --repair."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.backends.base import SearchBackendError
from search.indexing import reconcile_index


class Command(BaseCommand):
    help = "Report counts and content-hash checksums of index vs database; --repair fixes drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="delete extra, re-index missing and stale")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reconcile_index(repair=options["repair"])
        except SearchBackendError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"database records: {report.database}  indexed: {report.indexed}")
        self.stdout.write(f"database checksum: {report.database_checksum}")
        self.stdout.write(f"index checksum:    {report.index_checksum}")
        self.stdout.write(f"missing: {len(report.missing)}  extra: {len(report.extra)}  stale: {len(report.stale)}")
        if report.in_step:
            self.stdout.write(self.style.SUCCESS("index is in step with the database"))
        elif report.repaired:
            self.stdout.write(self.style.WARNING("drift repaired"))
        else:
            raise CommandError("index has drifted from the database (run with --repair)")
