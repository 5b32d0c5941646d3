"""Pure shaping of records and search pages for templates and the JSON API (no queries here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.http import QueryDict
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from guidelines.presenters import CERTAINTY_LABELS, DIRECTION_LABELS, STRENGTH_LABELS, label, recommendation_payload
from records.evidence.levels import LEVELS, N_, level_info
from search.bottom_line import BottomLine, PanelItem

if TYPE_CHECKING:
    from records.models import EvidenceRecord
    from search.types import ScoreBreakdown, SearchPage, SearchResult

LANGUAGE_NAMES = {
    "eng": N_("English"),
    "fre": N_("French"),
    "ger": N_("German"),
    "spa": N_("Spanish"),
    "ita": N_("Italian"),
    "por": N_("Portuguese"),
    "jpn": N_("Japanese"),
    "chi": N_("Chinese"),
    "rus": N_("Russian"),
    "dut": N_("Dutch"),
    "pol": N_("Polish"),
    "kor": N_("Korean"),
}


@dataclass(frozen=True)
class Badge:
    """An evidence badge: colour for the eye, ``label`` for screen readers and the colour-blind."""

    slug: str
    name: str
    short_name: str
    colour: str
    text_colour: str
    predicted: bool
    retracted: bool
    probability: float | None = None  # of the predicted level
    cues: tuple[str, ...] = ()  # what drove the prediction

    @property
    def predicted_text(self) -> str:
        """Return "predicted, 87 %" (or "predicted" without a probability)."""
        if self.probability is None:
            return gettext("predicted")
        return gettext("predicted, %(percent)s %%") % {"percent": round(self.probability * 100)}

    @property
    def label(self) -> str:
        if not self.predicted:
            return gettext("Evidence level: %(name)s") % {"name": self.name}
        if self.probability is None:
            text = gettext("Evidence level: %(name)s (predicted by the classifier") % {"name": self.name}
        else:
            text = gettext("Evidence level: %(name)s (predicted by the classifier, %(percent)s %%") % {
                "name": self.name,
                "percent": round(self.probability * 100),
            }
        # The cues are words of the (English) abstract: the record page lists them, marked English;
        # a tooltip in another language leaves them out.
        if self.cues and (get_language() or "en").startswith("en"):
            text += gettext("; top cues: %(cues)s") % {"cues": ", ".join(self.cues)}
        return text + ")"


def badge_for(record: EvidenceRecord) -> Badge:
    """Return the evidence badge of a record (unknown when ungraded)."""
    info = level_info(record.evidence_level)
    predicted = bool(record.evidence_predicted)
    explanation = record.evidence_explanation if isinstance(record.evidence_explanation, dict) else {}
    return Badge(
        slug=info.level.value,
        name=gettext(info.name),
        short_name=gettext(info.short_name),
        colour=info.colour,
        text_colour=info.text_colour,
        predicted=predicted,
        retracted=bool(record.retracted),
        probability=record.evidence_probability if predicted else None,
        cues=tuple(str(cue) for cue in explanation.get("cues") or ()) if predicted else (),
    )


@dataclass(frozen=True)
class DesignPrediction:
    """What the record page shows of a predicted design: the likeliest rungs and the cues behind them."""

    rungs: list[tuple[str, str]]  # (rung name, "87 %"), likeliest first, the three likeliest
    cues: list[str]
    strength: float | None


def design_prediction(record: EvidenceRecord) -> DesignPrediction | None:
    """Return the classifier's verdict on a record for its page, or None when its grade is from the indexing."""
    probabilities = record.evidence_probabilities if isinstance(record.evidence_probabilities, dict) else {}
    if not probabilities:
        return None
    ordered = sorted(probabilities.items(), key=lambda item: (-float(item[1]), item[0]))[:3]
    explanation = record.evidence_explanation if isinstance(record.evidence_explanation, dict) else {}
    return DesignPrediction(
        rungs=[(gettext(level_info(name).name), f"{round(float(p) * 100)} %") for name, p in ordered],
        cues=[str(cue) for cue in explanation.get("cues") or ()],
        strength=record.evidence_strength,
    )


def record_key(record: EvidenceRecord) -> str:
    """Return the id the record page is addressed by: the PMID, else the record's uid."""
    return record.pmid or record.uid


def record_path(record: EvidenceRecord) -> str:
    return f"/records/{record_key(record)}"


def record_links(record: EvidenceRecord) -> dict[str, str | None]:
    """Return the outside links of a record (None where absent) and its page on the portal."""
    return {
        "record": record_path(record),
        "pubmed": record.pubmed_url or None,
        "doi": record.doi_url or None,
        "pmc": record.pmc_url or None,
        "source": (record.url or None) if not record.pmid else None,
    }


def first_authors(record: EvidenceRecord, *, limit: int = 3) -> str:
    """Return "A, B, C, et al." from the record's author list."""
    names = [str(name) for name in (record.authors or []) if name]
    if not names:
        return ""
    shown = ", ".join(names[:limit])
    return f"{shown}, et al." if len(names) > limit else shown  # citation style, not translated


def explanation_text(record: EvidenceRecord) -> str:
    explanation = record.evidence_explanation or {}
    return str(explanation.get("text", "")) if isinstance(explanation, dict) else ""


REASON_PREFIXES = (
    ("PubMed publication type ", N_("PubMed publication type")),
    ("MeSH heading ", N_("MeSH heading")),
)


def reason_html(reason: str) -> SafeString:
    """Return one grading reason in the active language; PubMed's own terms stay English."""
    for prefix, words in REASON_PREFIXES:
        if reason.startswith(prefix):
            return format_html('{} <span lang="en">{}</span>', gettext(words), reason[len(prefix) :])
    return format_html('<span lang="en">{}</span>', reason)


def explanation_html(record: EvidenceRecord) -> tuple[SafeString, list[SafeString]]:
    """Return (explanation, reasons) of a record's grade for its page. English pages show the
    stored text as written; other languages get the level's name and each reason translated
    (the stored explanation stays English)."""
    explanation = record.evidence_explanation if isinstance(record.evidence_explanation, dict) else {}
    reasons = [str(r) for r in explanation.get("reasons") or []]
    if (get_language() or "en").startswith("en"):
        return conditional_escape(explanation_text(record)), [conditional_escape(r) for r in reasons]
    translated = [reason_html(r) for r in reasons]
    name = gettext(level_info(record.evidence_level).name)
    if not translated:
        return format_html("{}", name), []
    return format_html(
        "{}{}{}", name, gettext(": "), format_html_join(gettext(", "), "{}", ((r,) for r in translated))
    ), translated


def breakdown_dict(breakdown: ScoreBreakdown | None) -> dict[str, Any] | None:
    return asdict(breakdown) if breakdown is not None else None


def result_payload(result: SearchResult) -> dict[str, Any]:
    """Return one search result as the API shows it."""
    record = result.record
    return {
        "pmid": record.pmid or None,
        "uid": record.uid,
        "kind": record.kind,
        "title": record.title,
        "journal": record.journal,
        "year": record.publication_year,
        "authors": list(record.authors or []),
        "evidence_level": level_info(record.evidence_level).level.value,
        "evidence_explanation": record.evidence_explanation or {},
        "predicted": bool(record.evidence_predicted),
        "evidence_probability": record.evidence_probability if record.evidence_probabilities else None,
        "evidence_probabilities": dict(record.evidence_probabilities or {}),
        "retracted": bool(record.retracted),
        "snippet": result.snippet_html,
        "score_breakdown": breakdown_dict(result.breakdown),
        "links": record_links(record),
        "recommendation": recommendation_payload(record),
    }


def record_payload(record: EvidenceRecord) -> dict[str, Any]:
    """Return a record whole, as ``GET /api/v1/records/{pmid}`` shows it."""
    return {
        "pmid": record.pmid or None,
        "uid": record.uid,
        "kind": record.kind,
        "source": record.source,
        "source_id": record.source_id,
        "title": record.title,
        "abstract": record.abstract,
        "abstract_sections": list(record.abstract_sections or []),
        "journal": record.journal,
        "journal_abbreviation": record.journal_abbreviation,
        "publication_date": record.publication_date.isoformat() if record.publication_date else None,
        "publication_date_raw": record.publication_date_raw,
        "year": record.publication_year,
        "authors": list(record.authors or []),
        "doi": record.doi or None,
        "pmcid": record.pmcid or None,
        "language": record.language,
        "publication_types": list(record.publication_types or []),
        "mesh_headings": list(record.mesh_headings or []),
        "keywords": list(record.keywords or []),
        "issuing_body": record.issuing_body,
        "recommendation_text": record.recommendation_text,
        "evidence_level": level_info(record.evidence_level).level.value,
        "evidence_explanation": record.evidence_explanation or {},
        "predicted": bool(record.evidence_predicted),
        "evidence_probability": record.evidence_probability if record.evidence_probabilities else None,
        "evidence_probabilities": dict(record.evidence_probabilities or {}),
        "evidence_strength": record.evidence_strength,
        "retracted": bool(record.retracted),
        "retraction_notice": bool(record.retraction_notice),
        "has_erratum": bool(record.has_erratum),
        "version": record.version,
        "links": record_links(record),
        "recommendation": recommendation_payload(record),
    }


# --- URLs: every bit of search state lives in the query string ----------------------------------
def url_with(params: QueryDict, **changes: Any) -> str:
    """Return ``?query`` for ``params`` with some keys replaced (None or [] removes a key).

    Any change except to ``page`` itself sends the user back to page 1.
    """
    data = params.copy()
    if "page" not in changes:
        data.pop("page", None)
    for key, value in changes.items():
        data.pop(key, None)
        if value is None or value == [] or value == "":
            continue
        if isinstance(value, (list, tuple)):
            data.setlist(key, [str(item) for item in value])
        else:
            data[key] = str(value)
    pairs = [(key, value) for key in data for value in data.getlist(key) if value != ""]
    return "?" + urlencode(pairs) if pairs else "?"


def toggled(values: list[str], value: str) -> list[str]:
    return [item for item in values if item != value] if value in values else [*values, value]


@dataclass(frozen=True)
class FacetEntry:
    value: str
    label: str
    count: int
    selected: bool
    url: str
    colour: str = ""
    text_colour: str = ""


def level_facet(facets: dict[str, dict[str, int]], params: QueryDict, selected: list[str]) -> list[FacetEntry]:
    """Return the evidence pyramid, strongest first, each level a link that toggles its filter."""
    counts = facets.get("evidence_level", {})
    entries = []
    for info in LEVELS:
        slug = info.level.value
        count = int(counts.get(slug, 0))
        if not count and slug not in selected:
            continue
        entries.append(
            FacetEntry(
                value=slug,
                label=gettext(info.name),
                count=count,
                selected=slug in selected,
                url=url_with(params, level=toggled(selected, slug)),
                colour=info.colour,
                text_colour=info.text_colour,
            )
        )
    return entries


def value_facet(
    facets: dict[str, dict[str, int]],
    name: str,
    param: str,
    params: QueryDict,
    selected: list[str],
    *,
    limit: int = 8,
    labels: dict[str, str] | None = None,
) -> list[FacetEntry]:
    """Return the commonest values of a facet (selected ones always shown), most frequent first."""
    counts = facets.get(name, {})
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), item[0]))
    shown = [value for value, _ in ordered[:limit]]
    shown += [value for value in selected if value not in shown]
    return [
        FacetEntry(
            value=value,
            label=gettext(str(labels[value])) if labels and value in labels else value,
            count=int(counts.get(value, 0)),
            selected=value in selected,
            url=url_with(params, **{param: toggled(selected, value)}),
        )
        for value in shown
    ]


def year_bounds(facets: dict[str, dict[str, int]]) -> tuple[int | None, int | None]:
    years = [int(year) for year, count in facets.get("publication_year", {}).items() if str(year).isdigit() and count]
    return (min(years), max(years)) if years else (None, None)


def free_full_text_count(facets: dict[str, dict[str, int]]) -> int:
    counts = facets.get("free_full_text", {})
    return sum(int(count) for value, count in counts.items() if str(value).lower() in {"yes", "true", "1"})


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    current: bool = False


def sort_links(params: QueryDict, current: str, choices: list[tuple[str, str]]) -> list[Link]:
    return [Link(label, url_with(params, sort=value), value == current) for value, label in choices]


def pagination(page: SearchPage, params: QueryDict, *, window: int = 2) -> list[Link]:
    """Return page links around the current page (first and last always shown)."""
    current, last = page.request.page, page.page_count
    numbers = sorted({1, last, *range(max(1, current - window), min(last, current + window) + 1)})
    return [Link(str(number), url_with(params, page=number), number == current) for number in numbers]


def active_filters(data: dict[str, Any], params: QueryDict) -> list[Link]:
    """Return one "remove" link per active filter (used by the empty state and the filter bar)."""
    links = []
    for slug in data.get("level") or []:
        links.append(Link(gettext(level_info(slug).name), url_with(params, level=toggled(data["level"], slug))))
    for value in data.get("type") or []:
        links.append(Link(value, url_with(params, type=toggled(data["type"], value))))
    for value in data.get("language") or []:
        links.append(
            Link(
                gettext(LANGUAGE_NAMES[value]) if value in LANGUAGE_NAMES else value,
                url_with(params, language=toggled(data["language"], value)),
            )
        )
    if data.get("year_from"):
        links.append(Link(gettext("from %(year)s") % {"year": data["year_from"]}, url_with(params, year_from=None)))
    if data.get("year_to"):
        links.append(Link(gettext("to %(year)s") % {"year": data["year_to"]}, url_with(params, year_to=None)))
    if data.get("free_full_text"):
        links.append(Link(gettext("free full text"), url_with(params, free_full_text=None)))
    for param in ("kind", "issuer", "strength"):
        for value in data.get(param) or []:
            links.append(Link(value.replace("_", " "), url_with(params, **{param: toggled(data[param], value)})))
    if data.get("question"):
        links.append(
            Link(question_label(data["question"], data.get("scope") or "broad"), url_with(params, question=None))
        )
    return links


def question_label(question: str, scope: str) -> str:
    """Return the chip label of a clinical-question filter (``Therapy, narrow``)."""
    from portal.forms import QUESTION_CHOICES

    name = str(dict(QUESTION_CHOICES).get(question, question))
    if question == "systematic_reviews":
        return name
    scope_word = gettext(SCOPE_WORDS[scope]) if scope in SCOPE_WORDS else scope
    return gettext("%(question)s, %(scope)s") % {"question": name, "scope": scope_word}


SCOPE_WORDS = {"broad": N_("broad"), "narrow": N_("narrow")}


def panel_item_payload(item: PanelItem) -> dict[str, Any]:
    """Return one bottom-line item as the API shows it (and the template reads it)."""
    info = level_info(item.evidence_level)
    return {
        "kind": item.kind,
        "uid": item.uid,
        "title": item.title,
        "text": item.text,
        "citation": item.citation,
        "evidence_level": info.level.value,
        "evidence_level_name": gettext(info.name),
        "year": item.year,
        "issuer": item.issuer or None,
        "strength": item.strength or None,
        "certainty": item.certainty or None,
        "direction": item.direction or None,
        "strength_label": label(STRENGTH_LABELS, item.strength),
        "certainty_label": label(CERTAINTY_LABELS, item.certainty),
        "direction_label": label(DIRECTION_LABELS, item.direction),
        "links": {"record": f"/records/{item.uid}", "source": item.url or None},
    }


def bottom_line_payload(panel: BottomLine | None) -> dict[str, Any] | None:
    """Return the bottom-line panel as the API shows it, or None when there is none."""
    if panel is None:
        return None
    return {
        "lead": panel.lead,
        "recommendation": panel_item_payload(panel.recommendation) if panel.recommendation else None,
        "review": panel_item_payload(panel.review) if panel.review else None,
        "conflict": panel.has_conflict,
        "conflicts": [panel_item_payload(item) for item in panel.conflicts],
    }
