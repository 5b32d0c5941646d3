"""The search parameters, validated once for the page and the API (strictly: bad input is a 400)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from ingest.guidelines.types import Strength
from records.evidence.levels import LEVELS
from search import clinical_queries
from search.backends.base import SearchFilters
from search.types import SORT_MODES, SearchRequest

MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 10  # a phone screen shows three cards; PubMed's default is 10 too
MAX_PAGE = 500
MIN_YEAR = 1800
MAX_YEAR = 2100
MAX_TEXT = 500
MAX_PICO = 200
MAX_VALUES = 20

LEVEL_CHOICES = [(info.level.value, _(info.name)) for info in LEVELS]
SORT_CHOICES = [("evidence", _("Best evidence")), ("relevance", _("Relevance")), ("newest", _("Newest"))]
assert tuple(value for value, _ in SORT_CHOICES) == SORT_MODES
TEXT_PARAMS = ("q", "population", "intervention", "comparison", "outcome")
FILTER_PARAMS = (
    "level",
    "year_from",
    "year_to",
    "type",
    "free_full_text",
    "language",
    "kind",
    "issuer",
    "strength",
    "question",
)
STRENGTH_CHOICES = [
    (Strength.STRONG, _("Strong")),
    (Strength.CONDITIONAL, _("Conditional")),
    (Strength.INSUFFICIENT, _("Insufficient evidence")),
    (Strength.EXPERT_OPINION, _("Expert opinion")),
]
KIND_CHOICES = [
    ("recommendation", _("Guideline recommendations")),
    ("guideline", _("Guidelines")),
    ("article", _("Articles")),
]
QUESTION_CHOICES = [
    ("therapy", _("Therapy")),
    ("diagnosis", _("Diagnosis")),
    ("prognosis", _("Prognosis")),
    ("etiology", _("Etiology (causes, harm)")),
    ("clinical_prediction", _("Clinical prediction guides")),
    ("systematic_reviews", _("Systematic reviews")),
]
assert tuple(value for value, _ in QUESTION_CHOICES) == clinical_queries.QUESTION_CHOICES
SCOPE_CHOICES = [("broad", _("Broad (sensitive)")), ("narrow", _("Narrow (specific)"))]
assert tuple(value for value, _ in SCOPE_CHOICES) == clinical_queries.SCOPES


class MultipleTextField(forms.Field):
    """A repeatable free-text parameter (``?type=A&type=B``): a list of short, distinct strings."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_length: int = 100, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = [str(item).strip() for item in (value or [])]
        values = list(dict.fromkeys(item for item in values if item))
        if len(values) > MAX_VALUES:
            raise forms.ValidationError(
                _("At most %(count)d values are allowed."), code="too_many", params={"count": MAX_VALUES}
            )
        for item in values:
            if len(item) > self.max_length:
                raise forms.ValidationError(
                    _("Each value must be at most %(count)d characters."),
                    code="max_length",
                    params={"count": self.max_length},
                )
        return values


class SearchForm(forms.Form):
    """Everything a search page URL or ``GET /api/v1/search`` may carry."""

    q = forms.CharField(required=False, max_length=MAX_TEXT, label=_("Search the evidence"), strip=True)
    population = forms.CharField(required=False, max_length=MAX_PICO, label=_("Population / problem"))
    intervention = forms.CharField(required=False, max_length=MAX_PICO, label=_("Intervention"))
    comparison = forms.CharField(required=False, max_length=MAX_PICO, label=_("Comparison"))
    outcome = forms.CharField(required=False, max_length=MAX_PICO, label=_("Outcome"))
    level = forms.MultipleChoiceField(
        required=False,
        choices=LEVEL_CHOICES,
        label=_("Evidence level"),
        error_messages={"invalid_choice": _("Unknown evidence level %(value)s.")},
    )
    year_from = forms.IntegerField(required=False, min_value=MIN_YEAR, max_value=MAX_YEAR, label=_("From year"))
    year_to = forms.IntegerField(required=False, min_value=MIN_YEAR, max_value=MAX_YEAR, label=_("To year"))
    type = MultipleTextField(required=False, max_length=100, label=_("Publication type"))
    language = MultipleTextField(required=False, max_length=16, label=_("Language"))
    kind = forms.MultipleChoiceField(
        required=False,
        choices=KIND_CHOICES,
        label=_("Kind of record"),
        error_messages={"invalid_choice": "Unknown kind of record %(value)s."},
    )
    issuer = MultipleTextField(required=False, max_length=255, label=_("Guideline issuer"))
    strength = forms.MultipleChoiceField(
        required=False,
        choices=STRENGTH_CHOICES,
        label=_("Recommendation strength"),
        error_messages={"invalid_choice": "Unknown recommendation strength %(value)s."},
    )
    free_full_text = forms.TypedChoiceField(
        required=False,
        choices=[("", _("Any")), ("true", _("Yes")), ("false", _("No"))],
        coerce=lambda value: value == "true",
        empty_value=None,
        label=_("Free full text only"),
    )
    question = forms.ChoiceField(
        required=False,
        choices=[("", _("Any")), *QUESTION_CHOICES],
        label=_("Clinical question"),
        error_messages={"invalid_choice": _("Unknown clinical question %(value)s.")},
    )
    scope = forms.ChoiceField(
        required=False,
        choices=SCOPE_CHOICES,
        label=_("Scope"),
        error_messages={"invalid_choice": _("Unknown scope %(value)s: broad or narrow.")},
    )
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label=_("Sort by"))
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    page_size = forms.IntegerField(required=False, min_value=1)

    def clean_page_size(self) -> int:
        size = self.cleaned_data.get("page_size")
        return min(size, MAX_PAGE_SIZE) if size else DEFAULT_PAGE_SIZE

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        year_from, year_to = data.get("year_from"), data.get("year_to")
        if year_from is not None and year_to is not None and year_from > year_to:
            # A range typed backwards is still clear: search it the right way round.
            data["year_from"], data["year_to"] = year_to, year_from
        return data

    def has_query(self) -> bool:
        """Return whether the (valid) form asks for anything: text, a PICO part or a filter."""
        data = self.cleaned_data
        return any(data.get(name) for name in TEXT_PARAMS) or any(
            data.get(name) not in (None, "", []) for name in FILTER_PARAMS
        )

    def to_search_request(self) -> SearchRequest:
        """Return the ``SearchRequest`` of a valid form."""
        data = self.cleaned_data
        filters = SearchFilters(
            evidence_levels=tuple(data.get("level") or ()),
            year_from=data.get("year_from"),
            year_to=data.get("year_to"),
            publication_types=tuple(data.get("type") or ()),
            free_full_text=True if data.get("free_full_text") else None,
            languages=tuple(data.get("language") or ()),
            tag_groups=(*tag_groups(data), *self.clinical_query_groups()),
        )
        return SearchRequest(
            text=data.get("q") or "",
            population=data.get("population") or "",
            intervention=data.get("intervention") or "",
            comparison=data.get("comparison") or "",
            outcome=data.get("outcome") or "",
            filters=filters,
            sort=data.get("sort") or "evidence",
            page=data.get("page") or 1,
            page_size=data.get("page_size") or DEFAULT_PAGE_SIZE,
        )

    def clinical_query_groups(self) -> tuple[tuple[str, ...], ...]:
        """Return the tag filter of the chosen clinical question and scope (empty for none)."""
        question = self.cleaned_data.get("question")
        if not question:
            return ()
        key = clinical_queries.filter_key(question, self.cleaned_data.get("scope") or "broad")
        return ((clinical_queries.tag_of(key),),)

    def error_messages(self) -> dict[str, list[str]]:
        """Return the errors as plain ``{parameter: [message, ...]}``."""
        return {field: [str(message) for message in messages] for field, messages in self.errors.items()}


def tag_groups(data: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    """Return the index tag groups of the kind, issuer and strength filters (OR within, AND across)."""
    groups = []
    for param in ("kind", "issuer", "strength"):
        values = data.get(param) or []
        if values:
            groups.append(tuple(f"{param}:{value}" for value in values))
    return tuple(groups)


def search_form(params: QueryDict) -> SearchForm:
    """Return a bound ``SearchForm`` for query parameters."""
    return SearchForm(params)
