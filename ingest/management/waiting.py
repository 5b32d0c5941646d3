"""What the harvest commands do with ``--wait``: wait for the run, print its counts and errors."""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from ingest.models import HarvestRun, RunStatus
from ingest.runs import run_wait

ERRORS_SHOWN = 20


def wait_and_report(
    command: BaseCommand,
    run_id: int,
    *,
    stall_seconds: float | None,
    timeout: float | None,
    summary: Callable[[HarvestRun], str],
) -> HarvestRun:
    """Wait for a run, print ``summary(run)`` and its last errors; raise CommandError unless it succeeded."""
    try:
        run = run_wait(run_id=run_id, stall_seconds=stall_seconds, timeout=timeout)
    except TimeoutError as error:
        raise CommandError(str(error)) from None
    command.stdout.write(summary(run))
    for entry in run.errors[-ERRORS_SHOWN:]:
        command.stderr.write(f"  {entry['where']}: {entry['error']}")
    if run.status != RunStatus.SUCCEEDED:
        raise CommandError(f"run {run.pk} failed")
    return run
