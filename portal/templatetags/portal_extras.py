"""Small template helpers for the portal pages."""

from __future__ import annotations

from django import template
from django.http import QueryDict

register = template.Library()


@register.filter
def getlist(params: QueryDict | dict[str, object], key: str) -> list[str]:
    """Return every value of a repeatable query parameter (``params|getlist:"level"``)."""
    if hasattr(params, "getlist"):
        return [str(value) for value in params.getlist(key)]
    value = params.get(key)
    return [str(value)] if value else []
