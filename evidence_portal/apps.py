from __future__ import annotations

from django.apps import AppConfig


class EvidencePortalConfig(AppConfig):
    name = "evidence_portal"
    verbose_name = "Evidence Portal"
