"""Forms of the operations pages: they parse input; the services validate and act."""

from __future__ import annotations

from typing import Any

from django import forms

from guidelines.models import GuidelineSource
from ingest.models import DateType, SavedQuery
from operations.models import JobStatus
from operations.registry import job_kinds
from search.embeddings import RUNTIMES


class JobSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *JobStatus.choices])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "any kind"), *((k.name, k.label) for k in job_kinds())]  # type: ignore[attr-defined]


class ReembedForm(forms.Form):
    model = forms.CharField(max_length=200, label="Model")
    runtime = forms.ChoiceField(choices=[(r, r) for r in RUNTIMES], label="Runtime")


class SavedQueryForm(forms.Form):
    name = forms.CharField(max_length=200)
    query = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    datetype = forms.ChoiceField(choices=DateType.choices, initial=DateType.MODIFICATION)


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(label="Job")
    saved_query = forms.ModelChoiceField(
        queryset=SavedQuery.objects.order_by("name"), required=False, help_text="for a harvest"
    )
    guideline_source = forms.ModelChoiceField(
        queryset=GuidelineSource.objects.order_by("name"), required=False, help_text="for a guideline harvest"
    )
    every_hours = forms.IntegerField(required=False, min_value=1, label="Every (hours)")
    cron = forms.CharField(required=False, max_length=100, label="or cron", help_text="minute hour day month weekday")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.name, k.label) for k in job_kinds() if k.schedulable]  # type: ignore[attr-defined]
