from __future__ import annotations

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        # The built-in job kinds; other apps register theirs in their own ready().
        from operations import (
            jobs,  # noqa: F401
            signals,  # noqa: F401
        )
