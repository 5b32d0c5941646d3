"""The operations area under /ops/ (staff only)."""

from __future__ import annotations

from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("state.json", views.state_json, name="state-json"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/start", views.job_start, name="start"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>.json", views.job_json, name="job-json"),
    path("jobs/<int:pk>/cancel", views.job_cancel, name="cancel"),
    path("sources/", views.sources, name="sources"),
    path("schedules/<int:pk>/delete", views.schedule_delete, name="schedule-delete"),
    path("audit/", views.audit, name="audit"),
]
