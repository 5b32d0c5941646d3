from __future__ import annotations

from django.urls import path

from portal import views

urlpatterns = [
    path("", views.search_page, name="search"),
    path("search", views.search_page, name="search-results"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
