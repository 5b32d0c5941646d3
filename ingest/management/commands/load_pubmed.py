"""``manage.py load_pubmed PATH... [--queue | --wait] [--batch-size N] [--no-hand-off]``.

Without ``--queue``/``--wait`` the files are loaded in this process by
``ingest.services.load_pubmed_paths`` (what ``make run``'s seed load calls). With ``--queue`` they
become one harvest run of ``ingest.load_file`` tasks for the Celery workers, applied in order;
``--wait`` also blocks until the run has stored every record and exits non-zero if it failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest.services import load_pubmed_paths


class Command(BaseCommand):
    help = (
        "Load PubMed files (XML or MEDLINE text, plain or .gz; files or folders) into evidence records. "
        "Idempotent: loading the same files again changes nothing. Changed records are handed on to "
        "grading and indexing unless --no-hand-off. --queue/--wait load through the Celery workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="PubMed files or folders of them")
        parser.add_argument("--batch-size", type=int, default=500, help="records per transaction (default 500)")
        parser.add_argument(
            "--no-hand-off", action="store_true", help="store only; do not grade, index or embed changed records"
        )
        parser.add_argument("--show-problems", type=int, default=20, help="list this many skip reasons (default 20)")
        parser.add_argument("--queue", action="store_true", help="hand the files to the workers and return")
        parser.add_argument("--wait", action="store_true", help="hand the files to the workers and wait for them")
        parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many seconds")
        parser.add_argument(
            "--stall-seconds", type=float, default=None, help="re-enqueue pending work after this long without progress"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if options["queue"] or options["wait"]:
            self._through_workers(options)
            return
        on_changed = None
        if not options["no_hand_off"]:
            from ingest.pipeline import records_changed

            def on_changed(ids: list[int]) -> None:
                records_changed(ids)

        started = time.monotonic()
        counts = load_pubmed_paths(paths=options["paths"], batch_size=options["batch_size"], on_changed=on_changed)
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{counts.files} file(s): read {counts.read}, new {counts.new}, updated {counts.updated}, "
            f"unchanged {counts.unchanged}, superseded {counts.superseded}, deleted {counts.deleted}, "
            f"skipped {counts.skipped} ({seconds:.1f} s)"
        )
        if counts.read and counts.new == 0 and counts.updated == 0 and counts.deleted == 0:
            self.stdout.write("Nothing changed: every record was already stored as read.")
        shown = options["show_problems"]
        for problem in counts.problems[:shown]:
            self.stdout.write(f"  skipped {problem.location}: {problem.reason}")
        if len(counts.problems) > shown:
            self.stdout.write(f"  ... and {len(counts.problems) - shown} more")
        if counts.read == 0 and counts.deletions_read == 0:
            raise CommandError("nothing could be read from the paths given")

    def _through_workers(self, options: dict[str, Any]) -> None:
        from ingest.pubmed import iter_input_paths
        from ingest.runs import run_start_files, run_wait

        files = list(iter_input_paths(options["paths"]))
        missing = [str(path) for path in files if not path.is_file()]
        if missing:
            raise CommandError(f"not a readable file: {', '.join(missing)}")
        if not files:
            raise CommandError("nothing could be read from the paths given")
        run = run_start_files(paths=files, batch_size=options["batch_size"], hand_off=not options["no_hand_off"])
        self.stdout.write(f"run {run.pk}: {len(files)} file(s) queued")
        if not options["wait"]:
            return
        try:
            run = run_wait(run_id=run.pk, stall_seconds=options["stall_seconds"], timeout=options["timeout"])
        except TimeoutError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"run {run.pk} {run.status}: {len(files)} file(s): read {run.fetched}, new {run.new}, "
            f"updated {run.updated}, unchanged {run.unchanged}, deleted {run.deleted}, skipped {run.failed}"
        )
        for entry in run.errors[: options["show_problems"]]:
            self.stdout.write(f"  skipped {entry['where']}: {entry['error']}")
        if run.status != "succeeded":
            raise CommandError(f"run {run.pk} failed: {run.failed} record(s) or file(s) could not be loaded")
