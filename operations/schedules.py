"""Schedules of jobs, stored in the database and run by Celery beat (django-celery-beat's
``DatabaseScheduler``): each one is a ``PeriodicTask`` calling ``operations.run_scheduled`` with
a job kind and its parameters. Editing one here takes effect at beat's next sync, no restart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from operations.registry import InvalidJobParams, Params, job_kind
from operations.services import UserLike, audit_record

SCHEDULED_TASK = "operations.run_scheduled"


@dataclass
class Schedule:
    id: int
    name: str
    kind: str
    params: Params
    every_hours: int | None
    cron: str
    enabled: bool
    last_run_at: str | None
    runs: int


def _cron_parts(cron: str) -> list[str]:
    parts = cron.split()
    if len(parts) != 5 or not all(all(c.isdigit() or c in "*/,-" for c in p) for p in parts):
        raise InvalidJobParams("a cron schedule has five fields of digits, *, /, - and , (e.g. '0 3 * * *')")
    return parts


def schedules() -> list[Schedule]:
    """Return the job schedules, by name."""
    out = []
    for task in PeriodicTask.objects.filter(task=SCHEDULED_TASK).select_related("interval", "crontab").order_by("name"):
        kwargs = json.loads(task.kwargs or "{}")
        cron = ""
        if task.crontab is not None:
            c = task.crontab
            cron = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
        every = (
            task.interval.every
            if task.interval is not None and task.interval.period == IntervalSchedule.HOURS
            else None
        )
        out.append(
            Schedule(
                id=task.pk,
                name=task.name,
                kind=str(kwargs.get("kind", "")),
                params=dict(kwargs.get("params") or {}),
                every_hours=every,
                cron=cron,
                enabled=task.enabled,
                last_run_at=task.last_run_at.isoformat(timespec="seconds") if task.last_run_at else None,
                runs=task.total_run_count,
            )
        )
    return out


def schedule_save(
    *,
    name: str,
    kind: str,
    params: Params,
    every_hours: int | None,
    cron: str,
    enabled: bool,
    user: UserLike | None,
    schedule_id: int | None = None,
) -> PeriodicTask:
    """Create or update a schedule; return it. Raises InvalidJobParams for a bad kind, bad
    parameters, an unschedulable kind, or not exactly one of ``every_hours`` and ``cron``."""
    name = name.strip()
    try:
        if not name or len(name) > 200:
            raise InvalidJobParams("a schedule needs a name of at most 200 characters")
        definition = job_kind(kind)
        if not definition.schedulable:
            raise InvalidJobParams(f"{definition.label} cannot be scheduled")
        cleaned = definition.clean(dict(params))
        cron = cron.strip()
        if bool(every_hours) == bool(cron):
            raise InvalidJobParams("give either a number of hours or a cron schedule")
        if every_hours is not None and not 1 <= every_hours <= 24 * 366:
            raise InvalidJobParams("every_hours must be between 1 and 8784")
        with transaction.atomic():
            task = PeriodicTask.objects.filter(pk=schedule_id, task=SCHEDULED_TASK).first() if schedule_id else None
            if schedule_id and task is None:
                raise InvalidJobParams(f"no schedule {schedule_id}")
            if PeriodicTask.objects.filter(name=name).exclude(pk=getattr(task, "pk", None)).exists():
                raise InvalidJobParams(f"a schedule named {name!r} exists")
            task = task or PeriodicTask(task=SCHEDULED_TASK)
            task.name = name
            task.kwargs = json.dumps({"kind": kind, "params": cleaned, "schedule": name})
            task.enabled = enabled
            if cron:
                minute, hour, dom, month, dow = _cron_parts(cron)
                task.crontab, _ = CrontabSchedule.objects.get_or_create(
                    minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow
                )
                task.interval = None
            else:
                task.interval, _ = IntervalSchedule.objects.get_or_create(
                    every=int(every_hours or 0), period=IntervalSchedule.HOURS
                )
                task.crontab = None
            task.save()
    except InvalidJobParams as error:
        audit_record(actor=user, action="schedule.save", target=name, result=f"refused: {error}")
        raise
    when = cron or f"every {every_hours} h"
    audit_record(
        actor=user,
        action="schedule.save",
        target=name,
        result="saved",
        kind=kind,
        params=cleaned,
        when=when,
        enabled=enabled,
    )
    return task


def schedule_delete(*, schedule_id: int, user: UserLike | None) -> bool:
    """Delete a schedule; return whether there was one."""
    task = PeriodicTask.objects.filter(pk=schedule_id, task=SCHEDULED_TASK).first()
    if task is None:
        audit_record(actor=user, action="schedule.delete", target=str(schedule_id), result="no such schedule")
        return False
    name = task.name
    task.delete()
    audit_record(actor=user, action="schedule.delete", target=name, result="deleted")
    return True


def schedule_form_initial(schedule: Schedule) -> dict[str, Any]:
    return {
        "name": schedule.name,
        "kind": schedule.kind,
        "saved_query": schedule.params.get("saved_query"),
        "guideline_source": schedule.params.get("source"),
        "every_hours": schedule.every_hours,
        "cron": schedule.cron,
        "enabled": schedule.enabled,
    }
