"""``manage.py harvest_pubmed --query "..." [--from YYYY/MM/DD --to YYYY/MM/DD] [--wait]``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest.harvest import PUBMED_EPOCH, Window, WindowError, parse_day
from ingest.management.waiting import wait_and_report
from ingest.models import DateType, HarvestRun, SavedQuery
from ingest.runs import run_start_eutils


def _summary(run: HarvestRun) -> str:
    return (
        f"run {run.pk} {run.status}: found {run.found}, fetched {run.fetched}, new {run.new}, "
        f"updated {run.updated}, unchanged {run.unchanged}, deleted {run.deleted}, failed {run.failed}"
    )


class Command(BaseCommand):
    help = (
        "Harvest PubMed through E-utilities with the Celery workers. Without --from, a saved query "
        "continues from its checkpoint (or harvests everything the first time)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--query", required=True, help="PubMed query, as typed into PubMed")
        parser.add_argument("--name", help="name of the saved query (default: the query itself)")
        parser.add_argument("--from", dest="start", help="first day, YYYY/MM/DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY/MM/DD (default: today)")
        parser.add_argument("--datetype", choices=DateType.values, default=DateType.MODIFICATION)
        parser.add_argument("--wait", action="store_true", help="block until every record is stored")
        parser.add_argument(
            "--stall-seconds", type=float, default=None, help="re-enqueue pending work after this long without progress"
        )
        parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        query = options["query"].strip()
        if not query:
            raise CommandError("--query must not be empty")
        name = (options["name"] or query)[:200]
        saved, _ = SavedQuery.objects.get_or_create(
            name=name, defaults={"query": query, "datetype": options["datetype"]}
        )
        try:
            end = parse_day(options["end"]) if options["end"] else date.today()
            if options["start"]:
                start = parse_day(options["start"])
            elif saved.checkpoint and options["datetype"] == DateType.MODIFICATION:
                start = saved.checkpoint
            else:
                start = PUBMED_EPOCH
            window = Window(start, end)
        except WindowError as error:
            raise CommandError(str(error)) from None

        if not settings.NCBI_EMAIL and "ncbi.nlm.nih.gov" in str(settings.EUTILS_BASE_URL):
            raise CommandError("NCBI_EMAIL must be set to harvest from NCBI (NCBI asks for a contact address)")
        run = run_start_eutils(query=query, window=window, datetype=options["datetype"], saved_query=saved)
        self.stdout.write(f"run {run.pk}: {query!r} {options['datetype']} {window} queued")
        if not options["wait"]:
            return
        wait_and_report(
            self, run.pk, stall_seconds=options["stall_seconds"], timeout=options["timeout"], summary=_summary
        )
