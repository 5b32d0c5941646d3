"""Guideline runs: starting one for a source or a URL, checkpoints, sources due, the admin action."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from guidelines.models import GuidelineSource, SourceProtocol
from ingest.guidelines.runs import (
    GuidelineRunError,
    GuidelineTarget,
    guideline_source_harvest,
    guideline_sources_due,
    guideline_sources_harvest_due,
    run_start_guidelines,
)
from ingest.models import HarvestRun, HarvestSource, ItemKind, ItemStatus, RunStatus
from ingest.runs import item_lock, item_save

pytestmark = pytest.mark.django_db


def _source(**values: object) -> GuidelineSource:
    defaults: dict[str, object] = {
        "name": "who",
        "protocol": SourceProtocol.OAI,
        "url": "http://127.0.0.1:9/oai",
        "set_spec": "guidelines",
        "issuer": "World Health Organization",
    }
    return GuidelineSource.objects.create(**{**defaults, **values})


def test_source_run_harvests_oai_from_its_checkpoint_up_to_today() -> None:
    source = _source(checkpoint=date(2024, 5, 1))

    run = HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk, started_by="ops:nightly"))

    assert (run.source, run.guideline_source_id, run.started_by) == (HarvestSource.GUIDELINES, source.pk, "ops:nightly")
    assert (run.window_start, run.window_end, run.status) == (date(2024, 5, 1), timezone.localdate(), RunStatus.RUNNING)
    item = run.items.get()
    assert item.kind == ItemKind.OAI_PAGE
    assert item.payload["from"] == "2024-05-01" and item.payload["until"] == timezone.localdate().isoformat()
    assert (item.payload["set"], item.payload["issuer"], item.payload["token"]) == (
        "guidelines",
        "World Health Organization",
        None,
    )


def test_first_run_of_an_oai_source_harvests_everything_up_to_today() -> None:
    source = _source()
    run = HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk))
    assert run.window_start is None and run.window_end == timezone.localdate()
    assert run.items.get().payload["from"] is None


def test_missing_source_is_refused() -> None:
    with pytest.raises(GuidelineRunError, match="no guideline source with id 999"):
        guideline_source_harvest(source_id=999)
    assert not HarvestRun.objects.exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (GuidelineTarget(protocol="gopher", url="http://x/"), "protocol must be one of"),
        (GuidelineTarget(protocol=SourceProtocol.FEED, url="  "), "a URL is required"),
        (GuidelineTarget(protocol=SourceProtocol.OAI, url="ftp://x/oai"), "not an http"),
        (GuidelineTarget(protocol=SourceProtocol.USPSTF, url="no/such/file.json"), "no such file"),
        (
            GuidelineTarget(
                protocol=SourceProtocol.OAI, url="http://x/", from_date=date(2024, 2, 1), until_date=date(2024, 1, 1)
            ),
            "is before from",
        ),
    ],
)
def test_target_that_cannot_be_harvested_is_refused_and_nothing_is_created(
    target: GuidelineTarget, message: str
) -> None:
    with pytest.raises(GuidelineRunError, match=message):
        run_start_guidelines(target=target)
    assert not HarvestRun.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nope"], "no guideline source named 'nope' \\(configured: who\\)"),
        (["--feed", "http://x/feed", "--set", "a"], "--set, --from and --until go with --oai"),
        (["--oai", "http://x/oai", "--from", "2024/13/01"], "YYYY/MM/DD"),
        (["--oai", "not a url"], "not an http"),
        (["--uspstf", "missing.json"], "no such file"),
    ],
)
def test_harvest_command_refuses_bad_input_and_queues_nothing(args: list[str], message: str) -> None:
    _source()
    with pytest.raises(CommandError, match=message):
        call_command("harvest_guidelines", *args)
    assert not HarvestRun.objects.exists()


def test_command_needs_exactly_one_thing_to_harvest() -> None:
    with pytest.raises(CommandError, match="one of the arguments"):
        call_command("harvest_guidelines")
    with pytest.raises(CommandError, match="not allowed with"):
        call_command("harvest_guidelines", "--feed", "http://x/f", "--oai", "http://x/o")


def test_uspstf_file_run_stores_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "uspstf.json"
    path.write_text("{}")
    run = run_start_guidelines(target=GuidelineTarget(protocol=SourceProtocol.USPSTF, url=str(path)))
    item = run.items.get()
    assert (item.kind, item.payload["location"]) == (ItemKind.USPSTF, str(path.resolve()))
    assert run.window_start is None and run.window_end is None


def _finish(run: HarvestRun, *, failed: bool = False) -> HarvestRun:
    for item in run.items.all():
        with transaction.atomic():
            locked = item_lock(item.pk)
            assert locked is not None
            locked_run, locked_item = locked
            locked_item.status = ItemStatus.FAILED if failed else ItemStatus.DONE
            item_save(locked_run, locked_item)
    return HarvestRun.objects.get(pk=run.pk)


def test_successful_incremental_run_moves_the_checkpoint_to_its_until_day() -> None:
    source = _source(checkpoint=date(2024, 5, 1))
    run = _finish(HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk)))
    assert run.status == RunStatus.SUCCEEDED
    source.refresh_from_db()
    assert source.checkpoint == timezone.localdate()


def test_failed_run_leaves_the_checkpoint_where_it_was() -> None:
    source = _source(checkpoint=date(2024, 5, 1))
    run = _finish(HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk)), failed=True)
    assert run.status == RunStatus.FAILED
    source.refresh_from_db()
    assert source.checkpoint == date(2024, 5, 1)


def test_feed_run_has_no_window_and_keeps_no_checkpoint() -> None:
    source = _source(name="feed", protocol=SourceProtocol.FEED, url="http://x/feed.xml")
    run = _finish(HarvestRun.objects.get(pk=guideline_source_harvest(source_id=source.pk)))
    assert run.status == RunStatus.SUCCEEDED and run.items.get().kind == ItemKind.FEED
    source.refresh_from_db()
    assert source.checkpoint is None


def test_sources_due_are_enabled_with_an_interval_that_has_passed_and_no_run_going() -> None:
    never_run = _source(name="a-never-run")
    _source(name="b-disabled", enabled=False)
    _source(name="c-by-hand-only", interval_hours=0)
    recent = _source(name="d-recent", interval_hours=24)
    old = _source(name="e-old", interval_hours=24)
    going = _source(name="f-going", interval_hours=1)
    for source in (recent, old, going):
        guideline_source_harvest(source_id=source.pk)
    HarvestRun.objects.filter(guideline_source=old).update(
        created_at=timezone.now() - timedelta(hours=25), status=RunStatus.SUCCEEDED
    )
    HarvestRun.objects.filter(guideline_source=recent).update(status=RunStatus.SUCCEEDED)
    HarvestRun.objects.filter(guideline_source=going).update(created_at=timezone.now() - timedelta(hours=3))

    assert [source.name for source in guideline_sources_due()] == [never_run.name, old.name]


def test_admin_harvest_now_starts_a_run_of_each_selected_source(admin_client) -> None:
    first, second = _source(name="one"), _source(name="two", protocol=SourceProtocol.FEED, url="http://x/f")

    response = admin_client.post(
        "/admin/guidelines/guidelinesource/",
        {"action": "harvest_now", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert response.status_code == 200
    runs = HarvestRun.objects.order_by("guideline_source__name")
    assert [run.guideline_source_id for run in runs] == [first.pk, second.pk]
    assert all(run.started_by == "admin:admin" for run in runs)
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown == [f"harvest started: one (run {runs[0].pk}), two (run {runs[1].pk})"]
    listing = admin_client.get("/admin/guidelines/guidelinesource/").content.decode()
    assert f'<a href="/admin/ingest/harvestrun/{runs[0].pk}/change/">run {runs[0].pk} running</a>' in listing


def test_harvest_due_starts_one_run_per_due_source_and_none_twice() -> None:
    first, second = _source(name="a"), _source(name="b", protocol=SourceProtocol.FEED, url="http://x/f")
    _source(name="c", enabled=False)

    started = guideline_sources_harvest_due()

    runs = HarvestRun.objects.filter(pk__in=started).order_by("guideline_source__name")
    assert [run.guideline_source_id for run in runs] == [first.pk, second.pk]
    assert all(run.started_by == "schedule" for run in runs)
    assert guideline_sources_harvest_due() == []  # their runs are still going


def test_a_source_with_a_run_still_going_is_not_started_twice() -> None:
    source = _source()
    first = guideline_source_harvest(source_id=source.pk)
    with pytest.raises(GuidelineRunError, match=f"who: run {first} is still going"):
        guideline_source_harvest(source_id=source.pk)
    HarvestRun.objects.filter(pk=first).update(status=RunStatus.FAILED)
    assert guideline_source_harvest(source_id=source.pk) != first


def test_every_guideline_work_item_kind_has_a_registered_task() -> None:
    import ingest.tasks  # noqa: F401 - registers the tasks
    from evidence_portal.celery import app
    from ingest.runs import TASK_FOR_KIND

    guideline_kinds = [ItemKind.OAI_PAGE, ItemKind.FEED, ItemKind.DOCUMENT, ItemKind.USPSTF]
    assert all(TASK_FOR_KIND[kind].startswith("ingest.guidelines.") for kind in guideline_kinds)
    names = [TASK_FOR_KIND[kind] for kind in guideline_kinds]
    names += ["ingest.guidelines.harvest_due", "ingest.guidelines.harvest_source"]
    assert [name for name in names if name not in app.tasks] == []
