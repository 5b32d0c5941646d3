"""Template helpers for collection pages and the "add to collection" include."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

from curation.permissions import is_author
from curation.selectors import collections_editable_by
from records.evidence.levels import level_info

register = template.Library()


@register.filter
def level_name(level: str | None) -> str:
    """Return the evidence level's short name ("RCT", "Cohort", "Unknown") in the active language."""
    return gettext(level_info(level).short_name)


@register.simple_tag(takes_context=True)
def editable_collections(context: dict[str, Any]) -> list[Any]:
    """Return the signed-in user's active, editable collections (one query per request)."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    cached = getattr(request, "_curation_editable_collections", None)
    if cached is None:
        cached = list(collections_editable_by(request.user).only("id", "name"))
        request._curation_editable_collections = cached
    return cached


@register.filter
def certainty_label(value: str) -> str:
    """Return the GRADE certainty's label ("Very low"), or "" when not rated."""
    from curation.models import Certainty

    return str(Certainty(value).label) if value in Certainty.values else ""


@register.filter
def decision_label(value: str) -> str:
    """Return the screening decision's label ("Include") in the active language."""
    from curation.models import Decision

    return str(Decision(value).label) if value in Decision.values else value


@register.filter
def is_guideline_author(user: Any) -> bool:
    """Return True for staff and guideline authors (who may upload guidelines)."""
    return is_author(user)
