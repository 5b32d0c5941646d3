"""The job-kind registry: what a job of each kind runs, which lock it holds, how it cleans up.

A kind is registered once per process, usually from an app's ``AppConfig.ready()``::

    from operations.registry import JobKind, register_job_kind

    register_job_kind(JobKind(name="harvest_guideline_source", label="Harvest a guideline source",
                              run=run_harvest_source, clean=clean_source_params))

``run(context, params)`` does the work in the worker and reports through ``context``
(:class:`operations.context.JobContext`). ``clean(params)`` validates what a form, a command or
a schedule passes and returns JSON primitives, or raises :class:`InvalidJobParams`. Jobs whose
kinds share a ``lock`` never run at the same time. ``cleanup(job)`` undoes partial work after a
cancel, a failure or a dead worker. A kind whose work continues elsewhere (a harvest run of work
items) leaves its job running from ``run`` and reports through ``sync(job)``, which the watcher
calls until it finishes the job; ``cancel(job)`` stops that outside work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from operations.context import JobContext
    from operations.models import Job

Params = dict[str, Any]


class InvalidJobParams(ValueError):
    """The parameters of a job cannot be accepted; the message is safe to show."""


class UnknownJobKind(InvalidJobParams):
    """No job kind of that name is registered."""


def no_params(params: Params) -> Params:
    return {}


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    run: Callable[[JobContext, Params], None]
    clean: Callable[[Params], Params] = no_params
    lock: str | None = None
    cleanup: Callable[[Job], None] | None = None
    sync: Callable[[Job], None] | None = None
    cancel: Callable[[Job], None] | None = None
    # May be started from a schedule (Celery beat).
    schedulable: bool = False
    # Say what a job of this kind does with these parameters, for the history.
    describe: Callable[[Params], str] | None = None


_lock = threading.Lock()
_kinds: dict[str, JobKind] = {}


def register_job_kind(kind: JobKind) -> JobKind:
    """Register ``kind`` (again: the new definition replaces the old one); return it."""
    if not kind.name.replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"job kind names are letters, digits, dots and underscores: {kind.name!r}")
    with _lock:
        _kinds[kind.name] = kind
    return kind


def job_kind(name: str) -> JobKind:
    """Return the registered kind ``name``; raise UnknownJobKind when there is none."""
    with _lock:
        found = _kinds.get(name)
    if found is None:
        raise UnknownJobKind(f"unknown job kind {name!r}")
    return found


def job_kinds() -> list[JobKind]:
    """Return every registered kind, by name."""
    with _lock:
        return sorted(_kinds.values(), key=lambda k: k.name)
