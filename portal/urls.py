from __future__ import annotations

from django.urls import path

from portal import views

urlpatterns = [
    path("", views.search_page, name="search"),
    path("search", views.search_page, name="search-results"),
    path("suggest", views.suggest, name="suggest"),
    path("records/<str:key>.ris", views.record_ris, name="record-ris"),
    path("records/<str:key>.bib", views.record_bibtex, name="record-bibtex"),
    path("records/<str:key>", views.record_page, name="record"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
