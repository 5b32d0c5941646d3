"""The operations area answers staff only: the login page for anonymous visitors, 403 for any
signed-in user who is not staff (a plain user, a guideline author), the page for staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from operations.models import AuditEntry, Job, JobStatus
from operations.services import job_start

pytestmark = pytest.mark.django_db


def _endpoints(job_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("get", "/ops/", {}),
        ("get", "/ops/state.json", {}),
        ("get", "/ops/jobs/", {}),
        ("get", f"/ops/jobs/{job_id}/", {}),
        ("get", f"/ops/jobs/{job_id}.json", {}),
        ("post", f"/ops/jobs/{job_id}/cancel", {}),
        ("post", "/ops/jobs/start", {"kind": "regrade"}),
        ("get", "/ops/sources/", {}),
        ("post", "/ops/sources/", {"form": "query", "name": "x", "query": "y", "datetype": "mdat"}),
        ("post", "/ops/schedules/1/delete", {}),
        ("get", "/ops/audit/", {}),
    ]


@pytest.fixture
def queued_job(own_index: Any) -> Job:
    return job_start(kind="rebuild_index", label="fixture", enqueue=False)


def test_anonymous_visitors_get_the_login_page_on_every_endpoint(client: Client, queued_job: Job) -> None:
    for method, url, data in _endpoints(queued_job.pk):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert Job.objects.count() == 1
    assert Job.objects.get().status == JobStatus.QUEUED


@pytest.mark.parametrize("who", ["plain_user", "author"])
def test_signed_in_users_who_are_not_staff_get_403_everywhere(
    client: Client, queued_job: Job, who: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(who)
    client.force_login(user)
    for method, url, data in _endpoints(queued_job.pk):
        assert getattr(client, method)(url, data).status_code == 403, url
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.QUEUED and not queued_job.cancel_requested
    assert Job.objects.count() == 1
    assert not AuditEntry.objects.filter(actor=user).exists()


def test_staff_see_every_page(client: Client, staff: User, queued_job: Job) -> None:
    client.force_login(staff)
    for url in ("/ops/", "/ops/jobs/", f"/ops/jobs/{queued_job.pk}/", "/ops/sources/", "/ops/audit/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"<script>" not in response.content and b" style=" not in response.content, url
    assert client.get("/ops/state.json").json()["index"]["backend"] == "embedded"
    data = client.get(f"/ops/jobs/{queued_job.pk}.json").json()
    assert (data["status"], data["done"], data["percent"]) == ("queued", 0, 0.0)


def test_staff_cancel_a_queued_job_and_the_audit_log_says_so(client: Client, staff: User, queued_job: Job) -> None:
    client.force_login(staff)
    response = client.post(f"/ops/jobs/{queued_job.pk}/cancel")
    assert response.status_code == 302
    queued_job.refresh_from_db()
    assert queued_job.status == JobStatus.CANCELLED
    entry = AuditEntry.objects.filter(action="job.cancel").get()
    assert (entry.actor, entry.result) == (staff, "requested")


def test_a_second_rebuild_is_refused_with_a_link_to_the_running_one(
    client: Client, staff: User, queued_job: Job
) -> None:
    client.force_login(staff)
    response = client.post("/ops/jobs/start", {"kind": "rebuild_index"})
    assert response.status_code == 409
    assert f'href="/ops/jobs/{queued_job.pk}/"'.encode() in response.content
    assert b"already queued" in response.content
    assert Job.objects.count() == 1
    refused = AuditEntry.objects.filter(action="job.start", actor=staff).get()
    assert refused.result.startswith(f"refused: job {queued_job.pk} holds")


def test_refusal_and_cancel_messages_in_chinese(client: Client, staff: User, queued_job: Job) -> None:
    from django.urls import reverse
    from django.utils import translation

    client.force_login(staff)
    try:
        response = client.post("/ops/jobs/start", {"kind": "rebuild_index"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
        html = response.content.decode()
        assert response.status_code == 409
        assert "已在运行" in html and "已有一个“重建索引”任务处于排队中状态" in html
        cancel = reverse("operations:cancel", args=[queued_job.pk])
        response = client.post(cancel, follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert f"任务 {queued_job.pk}：已请求取消" in response.content.decode()  # noqa: RUF001
    finally:
        translation.activate("en")  # a request leaves its language active in the thread


def test_bad_job_parameters_are_refused_with_a_message_and_nothing_is_queued(
    client: Client, staff: User, own_index: Any
) -> None:
    client.force_login(staff)
    for data, message in (
        ({"kind": "nonsense"}, b"unknown job kind"),
        ({"kind": "regrade", "batch_size": "many"}, b"batch_size must be a whole number"),
        ({"kind": "reembed", "model": "", "runtime": "onnx"}, b"a model name is required"),
        ({"kind": "reembed", "model": "m", "runtime": "gpu"}, b"runtime must be one of"),
        ({"kind": "harvest_pubmed", "saved_query": "999"}, b"no saved query 999"),
        ({"kind": "harvest_guideline_source", "source": "999"}, b"no guideline source 999"),
    ):
        response = client.post("/ops/jobs/start", data, follow=True)
        assert response.status_code == 200
        assert message in response.content, data
    assert Job.objects.count() == 0
    assert AuditEntry.objects.filter(action="job.start", result__startswith="refused").count() == 6


def test_staff_add_a_saved_query_and_a_schedule_and_edit_it(client: Client, staff: User, own_index: Any) -> None:
    from django_celery_beat.models import PeriodicTask

    from ingest.models import SavedQuery

    client.force_login(staff)
    response = client.post(
        "/ops/sources/", {"form": "query", "name": "statins", "query": "statin[tiab]", "datetype": "mdat"}
    )
    assert response.status_code == 302
    saved = SavedQuery.objects.get(name="statins")
    data = {
        "form": "schedule",
        "name": "nightly statins",
        "kind": "harvest_pubmed",
        "saved_query": saved.pk,
        "every_hours": 24,
        "enabled": "on",
    }
    assert client.post("/ops/sources/", data).status_code == 302
    task = PeriodicTask.objects.get(name="nightly statins")
    assert task.task == "operations.run_scheduled" and task.interval.every == 24 and task.enabled
    edited = {**data, "schedule_id": task.pk, "every_hours": "", "cron": "0 3 * * *", "enabled": ""}
    assert client.post("/ops/sources/", edited).status_code == 302
    task.refresh_from_db()
    assert task.crontab is not None and task.crontab.hour == "3" and task.interval is None and not task.enabled
    page = client.get("/ops/sources/").content.decode()
    assert "nightly statins" in page and "cron 0 3 * * *" in page
    both = {**data, "name": "bad", "cron": "0 3 * * *"}
    response = client.post("/ops/sources/", both)
    assert response.status_code == 400 and b"either a number of hours or a cron schedule" in response.content
    assert client.post(f"/ops/schedules/{task.pk}/delete").status_code == 302
    assert not PeriodicTask.objects.filter(name="nightly statins").exists()
    actions = list(AuditEntry.objects.filter(actor=staff).order_by("at", "pk").values_list("action", "result"))
    assert actions == [
        ("source.save", "created"),
        ("schedule.save", "saved"),
        ("schedule.save", "saved"),
        ("schedule.save", "refused: give either a number of hours or a cron schedule"),
        ("schedule.delete", "deleted"),
    ]


def test_history_is_searchable(client: Client, staff: User, own_index: Any) -> None:
    first = job_start(kind="regrade", params={"only_unsettled": True}, user=staff, enqueue=False)
    second = job_start(kind="rebuild_index", label="nightly schedule", enqueue=False)
    client.force_login(staff)

    def listed(**query: str) -> set[int]:
        page = client.get("/ops/jobs/", query).content.decode()
        return {job.pk for job in (first, second) if f'href="/ops/jobs/{job.pk}/"' in page}

    assert listed(q="nightly") == {second.pk}
    assert listed(kind="regrade") == {first.pk}
    assert listed(q="sam") == {first.pk}
    assert listed() == {first.pk, second.pk}


def test_the_audit_log_is_append_only(staff: User) -> None:
    from operations.services import audit_record

    entry = audit_record(actor=staff, action="test", result="ok")
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.update(result="changed")
    assert AuditEntry.objects.get().result == "ok"


def test_readyz_reports_database_search_broker_and_model(client: Client, own_index: Any) -> None:
    data = client.get("/readyz").json()
    assert data["ok"] is True
    assert data["database"]["ok"] and data["search"]["ok"] and data["broker"]["ok"]
    assert data["model"]["configured"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert client.get("/healthz").json() == {"ok": True}
