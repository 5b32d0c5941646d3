from __future__ import annotations

from django.urls import path

from guidelines import views

urlpatterns = [
    path("guidelines/<int:guideline_id>/", views.guideline_detail, name="guideline"),
]
