"""The hand-off after records are stored: grade them, index them, and queue their embeddings.

``records_changed`` is called (after commit) with the ids of records a harvest or a load made
new, changed or deleted. Grading (``records.evidence.services.records_grade``) and indexing
(``search.indexing.records_index``) are looked up when called, so ingest works before those
stages exist (a stage that is missing is skipped and logged once); embedding runs in its own
task (``search.embed_pending``) because it is the slow part. ``INGEST_HANDOFF_STAGES`` names the
stages that run (all three by default). A failing stage never loses the
stored records: the failure is logged and the stage's own reconciliation catches up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    """One hand-off stage: a name and the dotted path of the callable it runs."""

    name: str
    target: str
    # "call": call target(record_ids=...); "task": enqueue the Celery task named by target.
    mode: str = "call"


DEFAULT_STAGES: tuple[Stage, ...] = (
    # PubMed records typed as guidelines also become guidelines (their recommendations split out).
    Stage("guidelines", "guidelines.services.guidelines_from_pubmed"),
    Stage("grade", "records.evidence.services.records_grade"),
    Stage("index", "search.indexing.records_index"),
    Stage("embed", "search.embed_pending", mode="task"),
)


@dataclass
class HandOff:
    """What ``records_changed`` did with each stage: ran, enqueued, missing or failed."""

    record_ids: list[int]
    outcomes: dict[str, str] = field(default_factory=dict)


_stages: tuple[Stage, ...] = DEFAULT_STAGES
_missing_logged: set[str] = set()


def set_stages(stages: Sequence[Stage]) -> tuple[Stage, ...]:
    """Replace the hand-off stages (tests, benchmarks); return the previous ones."""
    global _stages
    previous = _stages
    _stages = tuple(stages)
    return previous


def _resolve(target: str) -> Callable[..., Any] | None:
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            return None
        raise
    found = getattr(module, attribute, None)
    return found if callable(found) else None


def _send_task(name: str) -> bool:
    from evidence_portal.celery import app

    if name not in app.tasks:
        # The worker may know tasks this process has not imported; only send known names.
        app.loader.import_default_modules()
    if name not in app.tasks:
        return False
    app.send_task(name)
    return True


def records_changed(record_ids: Sequence[int]) -> HandOff:
    """Hand changed records to grading, indexing and embedding; return what each stage did."""
    handoff = HandOff(record_ids=sorted(set(record_ids)))
    if not handoff.record_ids:
        return handoff
    enabled = set(getattr(settings, "INGEST_HANDOFF_STAGES", [stage.name for stage in _stages]))
    for stage in _stages:
        if stage.name not in enabled:
            continue
        try:
            if stage.mode == "task":
                sent = _send_task(stage.target)
                handoff.outcomes[stage.name] = "enqueued" if sent else "missing"
            else:
                function = _resolve(stage.target)
                if function is None:
                    handoff.outcomes[stage.name] = "missing"
                else:
                    function(record_ids=handoff.record_ids)
                    handoff.outcomes[stage.name] = "ran"
        except Exception:
            logger.exception("hand-off stage %s failed for %d records", stage.name, len(handoff.record_ids))
            handoff.outcomes[stage.name] = "failed"
        if handoff.outcomes[stage.name] == "missing" and stage.target not in _missing_logged:
            _missing_logged.add(stage.target)
            logger.warning("hand-off stage %s is not available yet (%s)", stage.name, stage.target)
    return handoff
