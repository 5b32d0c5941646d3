"""Small graded corpora for portal tests (page, API and browser), indexed for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from records.models import EvidenceRecord
from search.backends import reset_backends
from tests.factories import EvidenceRecordFactory

XSS_TITLE = '<script>alert("title")</script> Statin <img src=x onerror=alert(1)> trial'
XSS_ABSTRACT = 'Statin <script>alert("abstract")</script> therapy " onmouseover="alert(2)" <b>bold</b> outcome.'


def point_embedded_index_at(settings: Any, path: Path) -> None:
    """Make the default backend an embedded index at ``path`` (a test's own)."""
    backends = dict(settings.SEARCH_BACKENDS)
    backends["embedded"] = {**backends["embedded"], "OPTIONS": {**backends["embedded"]["OPTIONS"], "path": str(path)}}
    settings.SEARCH_BACKENDS = backends
    settings.SEARCH_DEFAULT_BACKEND = "embedded"
    reset_backends()


def index_records(records: list[EvidenceRecord], *, vectors: bool = True) -> None:
    """Index the records' text now and, unless ``vectors`` is False, embed them too."""
    from search.indexing import embed_pending, records_index

    records_index(record_ids=[record.pk for record in records])
    if vectors:
        embed_pending(limit=len(records))


def build_corpus() -> dict[str, EvidenceRecord]:
    """Create and index (text and vectors) a small graded corpus about statins."""
    records = {
        "review": EvidenceRecordFactory(
            title="Statins for the primary prevention of cardiovascular disease: a systematic review",
            abstract_sections=[
                {"label": "BACKGROUND", "category": "BACKGROUND", "text": "Statins lower cholesterol."},
                {"label": "CONCLUSIONS", "category": "CONCLUSIONS", "text": "Statins reduce cardiovascular events."},
            ],
            abstract="BACKGROUND: Statins lower cholesterol.\nCONCLUSIONS: Statins reduce cardiovascular events.",
            publication_types=["Meta-Analysis", "Systematic Review"],
            evidence_level="systematic_review",
            evidence_explanation={
                "text": "systematic review: PubMed publication type Meta-Analysis",
                "reasons": ["PubMed publication type Meta-Analysis"],
                "source": "publication_type",
            },
            publication_date=None,
            publication_year=2021,
            publication_date_raw="2021",
            pmcid="PMC7654321",
            mesh_headings=[{"descriptor": "Hydroxymethylglutaryl-CoA Reductase Inhibitors", "major": True}],
        ),
        "trial": EvidenceRecordFactory(
            title="Atorvastatin versus placebo for stroke prevention: a randomised trial of statin therapy",
            abstract="Adults were randomised to atorvastatin or placebo. Statin therapy reduced stroke.",
            abstract_sections=[],
            publication_types=["Randomized Controlled Trial"],
            evidence_level="rct",
            evidence_explanation={"text": "RCT: PubMed publication type Randomized Controlled Trial"},
            publication_date=None,
            publication_year=2015,
            publication_date_raw="2015",
        ),
        "cohort": EvidenceRecordFactory(
            title="Statin use and the risk of dementia in older adults: a cohort study",
            abstract="A cohort of older adults taking statins was followed for ten years.",
            abstract_sections=[],
            evidence_level="cohort",
            evidence_predicted=True,
            evidence_probability=0.81,
            evidence_probabilities={"cohort": 0.81, "case_control": 0.12, "cross_sectional": 0.07},
            evidence_strength=0.81 * 0.6364 + 0.12 * 0.5455 + 0.07 * 0.4545,
            evidence_explanation={
                "text": "cohort study: predicted by the classifier",
                "cues": ['"followed"', "design cue: cohort design"],
            },
            publication_date=None,
            publication_year=2023,
            publication_date_raw="2023",
            language="fre",
            languages=["fre"],
        ),
        "retracted": EvidenceRecordFactory(
            title="Statin therapy reverses ageing: a randomised trial",
            abstract="This statin trial was retracted.",
            abstract_sections=[],
            evidence_level="rct",
            retracted=True,
            publication_date=None,
            publication_year=2018,
            publication_date_raw="2018",
        ),
        "unrelated": EvidenceRecordFactory(
            title="Physiotherapy for knee osteoarthritis",
            abstract="Exercise improved knee pain.",
            abstract_sections=[],
            evidence_level="rct",
            publication_date=None,
            publication_year=2020,
            publication_date_raw="2020",
        ),
    }
    index_records(list(records.values()))
    return records


def build_xss_record() -> EvidenceRecord:
    """Create and index a record whose title and abstract try to inject script and attributes."""
    record = EvidenceRecordFactory(
        title=XSS_TITLE,
        abstract=XSS_ABSTRACT,
        abstract_sections=[{"label": '<i onclick="x()">RESULTS</i>', "category": "RESULTS", "text": XSS_ABSTRACT}],
        journal='<script>alert("journal")</script>',
        authors=['<img src=x onerror=alert("author")>'],
        mesh_headings=[{"descriptor": "<script>alert('mesh')</script>", "major": True}],
        evidence_level="rct",
        evidence_explanation={"text": "<script>alert('why')</script>", "reasons": ["<b onmouseover=x>r</b>"]},
        publication_date=None,
        publication_year=2020,
    )
    index_records([record])
    return record
