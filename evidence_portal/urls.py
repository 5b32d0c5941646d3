from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from evidence_portal.api import api
from guidelines.upload_views import guideline_upload_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api.urls),
    path("ops/", include("operations.urls")),
    # POST language=zh-hans|en to /i18n/setlang/: the switch in the page header (remembered in a cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    path("guidelines/upload/", guideline_upload_view, name="guideline-upload"),
    path("", include("curation.urls")),
    path("", include("guidelines.urls")),
    path("", include("portal.urls")),
]
