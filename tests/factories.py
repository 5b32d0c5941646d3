"""factory_boy factories for the models tests build rows of (import these, don't hand-roll rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import factory

from records.models import EvidenceRecord, RecordKind

HARVESTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


class EvidenceRecordFactory(factory.django.DjangoModelFactory):
    """A live PubMed article with a structured abstract, one MeSH heading and a content hash.

    ``EvidenceRecordFactory(publication_types=["Randomized Controlled Trial"], retracted=True)``;
    guidelines: ``EvidenceRecordFactory(guideline=True)``.
    """

    class Meta:
        model = EvidenceRecord
        django_get_or_create = ("source", "source_id")

    class Params:
        guideline = factory.Trait(
            kind=RecordKind.GUIDELINE,
            source="uspstf",
            pmid="",
            issuing_body="US Preventive Services Task Force",
            recommendation_text="The USPSTF recommends screening.",
            publication_types=["Practice Guideline"],
        )

    kind = RecordKind.ARTICLE
    source = "pubmed"
    source_id = factory.Sequence(lambda n: str(90000000 + n))
    pmid = factory.LazyAttribute(lambda o: o.source_id if o.source == "pubmed" else "")
    title = factory.Sequence(lambda n: f"Effect of treatment {n} on blood pressure in adults")
    abstract_sections = factory.LazyAttribute(
        lambda o: [
            {"label": "BACKGROUND", "category": "BACKGROUND", "text": f"Background of {o.title}."},
            {"label": "RESULTS", "category": "RESULTS", "text": "Blood pressure fell."},
        ]
    )
    abstract = factory.LazyAttribute(
        lambda o: "\n".join(f"{s['label']}: {s['text']}" if s["label"] else s["text"] for s in o.abstract_sections)
    )
    journal = "The Journal of Testing"
    journal_abbreviation = "J Test"
    publication_date = date(2020, 5, 1)
    publication_date_raw = "2020 May"
    publication_year = factory.LazyAttribute(lambda o: o.publication_date.year if o.publication_date else None)
    authors = factory.LazyFunction(lambda: ["Smith J", "Doe A"])
    doi = factory.LazyAttribute(lambda o: f"10.1000/test.{o.source_id}")
    pmcid = ""
    language = "eng"
    languages = factory.LazyFunction(lambda: ["eng"])
    publication_types = factory.LazyFunction(lambda: ["Journal Article"])
    mesh_headings = factory.LazyFunction(lambda: [{"descriptor": "Hypertension", "major": True, "qualifiers": []}])
    keywords = factory.LazyFunction(list)
    publication_status = "MEDLINE"
    content_hash = factory.Sequence(lambda n: f"{n:064x}")
    version = 1
    source_version = 1
    first_harvested_at = HARVESTED_AT
    last_harvested_at = HARVESTED_AT
