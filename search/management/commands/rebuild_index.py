"""Rebuild the search index from the database through a new generation (zero downtime).

python manage.py rebuild_index [--queue [--wait]] [--batch-size N]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations.commanding import add_queue_arguments, run_job_command


class Command(BaseCommand):
    help = (
        "Build a new index generation from the database, verify it, switch to it, drop the old one. "
        "Runs here; --queue hands it to the workers (--wait prints progress until it ends)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_queue_arguments(parser)
        parser.add_argument("--batch-size", type=int, default=500, help="records written per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        job = run_job_command(self, kind="rebuild_index", params={"batch_size": options["batch_size"]}, options=options)
        if job.status == "succeeded":
            c = job.counts
            self.stdout.write(
                f"generation {job.result.get('generation')}: {c.get('indexed', 0)} records, "
                f"{c.get('with_vectors', 0)} with vectors; dropped {c.get('dropped', 0)} old generation(s)"
            )
