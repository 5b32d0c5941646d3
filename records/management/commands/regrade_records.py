"""Regrade every record after the rules or the model changed, through the Celery pipeline.

python manage.py regrade_records [--sync | --queue [--wait]] [--only-unsettled] [--batch-size N]

--queue runs it as an operations job (progress, cancel, history), like the button on /ops/.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from operations.commanding import add_queue_arguments, run_job_command
from records import tasks
from records.evidence.services import record_id_batches, records_grade


class Command(BaseCommand):
    help = "Regrade records: enqueue records.regrade_all (default) or grade inline with --sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sync", action="store_true", help="grade here and now instead of through the worker")
        parser.add_argument("--only-unsettled", action="store_true", help="only ungraded, unknown or predicted records")
        parser.add_argument("--batch-size", type=int, default=tasks.REGRADE_BATCH)
        add_queue_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = max(1, options["batch_size"])
        if options["queue"] or options["wait"]:
            params = {"only_unsettled": options["only_unsettled"], "batch_size": min(batch_size, 5000)}
            run_job_command(self, kind="regrade", params=params, options=options)
            return
        if not options["sync"]:
            tasks.regrade_all.delay(only_unsettled=options["only_unsettled"], batch_size=batch_size)
            self.stdout.write("enqueued records.regrade_all: a worker grades the records in batches")
            return
        graded = 0
        for batch in record_id_batches(batch_size=batch_size, only_unsettled=options["only_unsettled"]):
            graded += records_grade(record_ids=batch)
        self.stdout.write(f"graded {graded} records")
