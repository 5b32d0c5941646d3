"""Forms of the guideline pages: bound and check the input before a service sees it."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from guidelines.uploads import UPLOAD_SUFFIXES, size_limit_message, upload_max_bytes


class GuidelineUploadForm(forms.Form):
    document = forms.FileField(label=_("Document"), help_text=_("PDF, HTML or DOCX"))
    title = forms.CharField(max_length=500, label=_("Title"))
    issuer = forms.CharField(max_length=255, label=_("Issuing body"))
    year = forms.IntegerField(min_value=1900, max_value=date.today().year + 1, label=_("Year"))
    url = forms.URLField(required=False, max_length=500, label=_("Source URL"), assume_scheme="https")
    version = forms.CharField(required=False, max_length=64, label=_("Version"))

    def clean_document(self) -> UploadedFile:
        document: UploadedFile = self.cleaned_data["document"]
        name = document.name or "document"
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError(f"{name}: not a PDF, HTML or DOCX file")
        limit = upload_max_bytes()
        if document.size is not None and document.size > limit:
            raise forms.ValidationError(size_limit_message(name=name, size=document.size, limit=limit))
        return document
