"""Forms of the guideline pages: bound and check the input before a service sees it."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guidelines.uploads import UPLOAD_SUFFIXES, upload_max_bytes


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
            raise forms.ValidationError(gettext("%(name)s: not a PDF, HTML or DOCX file") % {"name": name})
        limit = upload_max_bytes()
        if document.size is not None and document.size > limit:
            message = gettext(
                "%(name)s is %(size)s bytes, over the size limit of %(limit)s bytes (GUIDELINE_MAX_BYTES)"
            )
            raise forms.ValidationError(message % {"name": name, "size": f"{document.size:,}", "limit": f"{limit:,}"})
        return document
