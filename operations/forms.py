"""Forms of the operations pages: they parse input; the services validate and act."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guidelines.models import GuidelineSource
from ingest.models import DateType, SavedQuery
from operations.models import JobStatus
from operations.registry import job_kinds
from search.embeddings import RUNTIMES


class JobSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    kind = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Job states as the tables show them (lower case, in the active language).
        self.fields["status"].choices = [("", gettext("any status")), *((v, gettext(v)) for v in JobStatus.values)]  # type: ignore[attr-defined]
        self.fields["kind"].choices = [("", _("any kind")), *((k.name, gettext(k.label)) for k in job_kinds())]  # type: ignore[attr-defined]


class ReembedForm(forms.Form):
    model = forms.CharField(max_length=200, label=_("Model"))
    runtime = forms.ChoiceField(choices=[(r, r) for r in RUNTIMES], label=_("Runtime"))


class SavedQueryForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    query = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}), label=_("Query"))
    datetype = forms.ChoiceField(
        choices=[(value, _(name)) for value, name in DateType.choices],  # the labels are in the catalogue
        initial=DateType.MODIFICATION,
        label=_("Date type"),
    )


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    kind = forms.ChoiceField(label=_("Job"))
    saved_query = forms.ModelChoiceField(
        queryset=SavedQuery.objects.order_by("name"),
        required=False,
        label=_("Saved query"),
        help_text=_("for a harvest"),
    )
    guideline_source = forms.ModelChoiceField(
        queryset=GuidelineSource.objects.order_by("name"),
        required=False,
        label=_("Guideline source"),
        help_text=_("for a guideline harvest"),
    )
    every_hours = forms.IntegerField(required=False, min_value=1, label=_("Every (hours)"))
    cron = forms.CharField(
        required=False, max_length=100, label=_("or cron"), help_text=_("minute hour day month weekday")
    )
    enabled = forms.BooleanField(required=False, initial=True, label=_("Enabled"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.name, gettext(k.label)) for k in job_kinds() if k.schedulable]  # type: ignore[attr-defined]
