"""What the management commands share: run a job here, or queue it and optionally wait for it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operations import services
from operations.models import Job, JobStatus
from operations.registry import InvalidJobParams


def add_queue_arguments(parser: CommandParser) -> None:
    parser.add_argument("--queue", action="store_true", help="hand the job to the workers (as the button does)")
    parser.add_argument("--wait", action="store_true", help="with --queue: wait for the job and print its progress")
    parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many seconds")


def progress_line(job: Job) -> str:
    total = f"/{job.total}" if job.total else ""
    pct = f" {100 * job.done / job.total:.0f} %" if job.total else ""
    rate = f", {job.rate:.1f}/s" if job.rate else ""
    return f"job {job.pk} {job.status}: {job.phase} {job.done}{total}{pct}{rate}"


def run_job_command(command: BaseCommand, *, kind: str, params: dict[str, Any], options: dict[str, Any]) -> Job:
    """Run (default) or queue the job; print its outcome; raise CommandError unless it succeeded
    (or was only queued)."""
    if options.get("wait") and not options.get("queue"):
        raise CommandError("--wait needs --queue")
    try:
        if not options.get("queue"):
            job = services.job_run_inline(kind=kind, params=params)
        else:
            job = services.job_start(kind=kind, params=params, label="command line")
            command.stdout.write(f"job {job.pk} queued ({kind})")
            if not options.get("wait"):
                return job
            last = [""]

            def report(current: Job) -> None:
                line = progress_line(current)
                if line != last[0]:
                    command.stdout.write(line)
                    last[0] = line

            job = services.job_wait(job_id=job.pk, report=report, timeout=options.get("timeout"))
    except services.JobConflict as conflict:
        raise CommandError(f"{conflict}: see /ops/jobs/{conflict.job.pk}/") from None
    except InvalidJobParams as error:
        raise CommandError(str(error)) from None
    except TimeoutError as error:
        raise CommandError(str(error)) from None
    counts = ", ".join(f"{k} {v}" for k, v in job.counts.items())
    command.stdout.write(f"job {job.pk} {job.status}: {counts}")
    for key, value in job.result.items():
        command.stdout.write(f"  {key}: {value}")
    for message in job.errors[-20:]:
        command.stderr.write(f"  {message}")
    if job.status != JobStatus.SUCCEEDED:
        reason = f": {job.errors[-1]}" if job.errors else ""
        raise CommandError(f"job {job.pk} {job.status}{reason}")
    return job
