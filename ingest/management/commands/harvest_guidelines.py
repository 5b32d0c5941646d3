"""``manage.py harvest_guidelines --source NAME | --oai URL [--set SET] | --feed URL | --uspstf FILE_OR_URL``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from guidelines.models import GuidelineSource, SourceProtocol
from ingest.guidelines.runs import (
    GuidelineRunError,
    GuidelineTarget,
    guideline_source_harvest,
    run_counts_line,
    run_start_guidelines,
)
from ingest.harvest import WindowError, parse_day
from ingest.management.waiting import wait_and_report
from ingest.models import HarvestRun


class Command(BaseCommand):
    help = (
        "Harvest guidelines with the Celery workers: a configured source (--source), or one OAI-PMH "
        "repository, feed or USPSTF JSON file or URL. A configured OAI-PMH source continues from its "
        "checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--source", help="name of a guideline source configured in the admin")
        what.add_argument("--oai", metavar="URL", help="OAI-PMH base URL")
        what.add_argument("--feed", metavar="URL", help="RSS or Atom feed URL")
        what.add_argument("--uspstf", metavar="FILE_OR_URL", help="USPSTF Prevention TaskForce API JSON")
        parser.add_argument("--set", dest="set_spec", default="", help="with --oai: the OAI-PMH set")
        parser.add_argument("--prefix", default="oai_dc", help="with --oai: the metadata prefix (default oai_dc)")
        parser.add_argument("--from", dest="start", help="with --oai: first day, YYYY/MM/DD")
        parser.add_argument("--until", dest="end", help="with --oai: last day, YYYY/MM/DD")
        parser.add_argument("--issuer", default="", help="issuing body of documents that do not name one")
        parser.add_argument("--wait", action="store_true", help="block until every document is stored")
        parser.add_argument(
            "--stall-seconds", type=float, default=None, help="re-enqueue pending work after this long without progress"
        )
        parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["oai"] and (options["set_spec"] or options["start"] or options["end"]):
            raise CommandError("--set, --from and --until go with --oai")
        try:
            run = self._start(options)
        except (GuidelineRunError, WindowError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"run {run.pk}: {run.query} queued")
        if not options["wait"]:
            return
        wait_and_report(
            self, run.pk, stall_seconds=options["stall_seconds"], timeout=options["timeout"], summary=run_counts_line
        )

    def _start(self, options: dict[str, Any]) -> HarvestRun:
        if options["source"]:
            source = GuidelineSource.objects.filter(name=options["source"]).first()
            if source is None:
                names = ", ".join(GuidelineSource.objects.order_by("name").values_list("name", flat=True))
                raise CommandError(f"no guideline source named {options['source']!r} (configured: {names or 'none'})")
            return HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk, started_by="command"))
        if options["oai"]:
            target = GuidelineTarget(
                protocol=SourceProtocol.OAI,
                url=options["oai"],
                set_spec=options["set_spec"],
                metadata_prefix=options["prefix"],
                issuer=options["issuer"],
                from_date=parse_day(options["start"]) if options["start"] else None,
                until_date=parse_day(options["end"]) if options["end"] else None,
            )
        elif options["feed"]:
            target = GuidelineTarget(protocol=SourceProtocol.FEED, url=options["feed"], issuer=options["issuer"])
        else:
            target = GuidelineTarget(protocol=SourceProtocol.USPSTF, url=options["uspstf"], issuer=options["issuer"])
        return run_start_guidelines(target=target, started_by="command")
