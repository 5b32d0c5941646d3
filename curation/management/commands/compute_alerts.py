"""Check saved searches for new evidence now, or enqueue the Celery task that does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from curation.alerts import compute_alerts


class Command(BaseCommand):
    help = "Record new-evidence alerts for saved searches (idempotent); --enqueue hands it to a worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true", help="Enqueue curation.compute_alerts instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            from curation.tasks import compute_new_evidence_alerts

            compute_new_evidence_alerts.delay()
            self.stdout.write("Enqueued curation.compute_alerts")
            return
        report = compute_alerts()
        self.stdout.write(
            f"Checked {report.searches} saved search(es): {report.new_alerts} new alert(s), {report.emails} email(s)"
        )
        for error in report.errors:
            self.stderr.write(error)
