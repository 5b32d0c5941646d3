"""Forms: parse and bound the input of the collection pages before a service sees it."""

from __future__ import annotations

from django import forms

from curation.models import Certainty, Decision, Role


class CollectionForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class AddItemForm(forms.Form):
    record = forms.CharField(max_length=120, label="PMID or guideline id")
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class AddToCollectionForm(AddItemForm):
    """Add a record from a search result or the record page into one of my collections."""

    collection = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False, max_length=2000)


class ItemForm(forms.Form):
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(required=False, max_length=1000, help_text="Comma-separated")
    decision = forms.ChoiceField(choices=Decision.choices)
    exclusion_reason = forms.CharField(required=False, max_length=2000, label="Reason for exclusion")
    certainty = forms.ChoiceField(choices=[("", "Not rated"), *Certainty.choices], required=False)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class ShareForm(forms.Form):
    username = forms.CharField(max_length=254, label="Username or email")
    role = forms.ChoiceField(choices=Role.choices)


class SnapshotForm(forms.Form):
    label = forms.CharField(required=False, max_length=200)


class SavedSearchForm(forms.Form):
    query = forms.CharField(max_length=500)
    year_from = forms.IntegerField(required=False, min_value=1800, max_value=2100)
    email_digest = forms.BooleanField(required=False, label="Email me a digest")

    def filters(self) -> dict[str, object]:
        year_from = self.cleaned_data.get("year_from")
        return {"year_from": year_from} if year_from else {}


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150)
    password1 = forms.CharField(widget=forms.PasswordInput, label="Password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="Password again")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError("The two passwords differ")
        return data


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
