"""Pure builders for the Elasticsearch backend: the index template and the query bodies.

No client calls here, so every body is testable without a node. User text only ever reaches
Elasticsearch inside ``match`` / ``multi_match`` queries (analysed as plain text), never through
``query_string``, so Lucene syntax in a search box cannot break or widen a query.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from search.backends.base import LexicalQuery, SearchFilters
from search.documents import IndexDocument, tag_facets

# As in the embedded backend: "body" is the title repeated ``title_repeat`` times plus the
# abstract, scored as one BM25 field; the separate fields can add per-field boosts on top.
DEFAULT_FIELD_WEIGHTS = {"body": 1.0, "title": 0.0, "abstract": 0.0, "mesh_terms": 0.0, "keywords": 0.0}
DEFAULT_TITLE_REPEAT = 2
TEXT_FIELDS = tuple(DEFAULT_FIELD_WEIGHTS)
VECTOR_FIELD = "vector"
FACET_FIELDS = {
    "evidence_level": "evidence_level",
    "publication_year": "publication_year",
    "publication_type": "publication_types",
    "free_full_text": "free_full_text",
    "language": "language",
}
FACET_BUCKETS = 1000
TAGS_AGGREGATION = "tags"
# Field types the backend relies on; an index that maps one differently is refused clearly.
EXPECTED_TYPES = {
    "doc_id": "keyword",
    "body": "text",
    "title": "text",
    "abstract": "text",
    "mesh_terms": "text",
    "keywords": "text",
    "evidence_level": "keyword",
    "publication_year": "integer",
    "publication_types": "keyword",
    "journal": "keyword",
    "language": "keyword",
    "free_full_text": "boolean",
    "retracted": "boolean",
    "tags": "keyword",
    "content_hash": "keyword",
    VECTOR_FIELD: "dense_vector",
}
VECTOR_INDEX_TYPES = ("hnsw", "int8_hnsw")
MAX_NUM_CANDIDATES = 10_000
# num_candidates per requested neighbour (ELASTICSEARCH_KNN_CANDIDATE_FACTOR). At 100,000 documents
# and k=200, 5 keeps vector recall@200 at 0.994-0.998 of exact (the embedded HNSW: 0.997) for about
# half the 8-client hybrid p95 of 10 (bench/production.py --knn-factors; docs/deployment.md).
DEFAULT_CANDIDATE_FACTOR = 5.0


def index_mappings(*, vector_dims: int | None, vector_index_type: str = "hnsw") -> dict[str, Any]:
    """Return the mappings of one generation index.

    ``vector_dims`` None leaves the dimension to the first vector indexed (Elasticsearch then
    fixes it and refuses any other). Raises ValueError for an unknown vector index type.
    """
    if vector_index_type not in VECTOR_INDEX_TYPES:
        raise ValueError(f"vector_index_type must be one of {', '.join(VECTOR_INDEX_TYPES)}, not {vector_index_type!r}")
    vector: dict[str, Any] = {
        "type": "dense_vector",
        "index": True,
        "similarity": "cosine",
        "index_options": {"type": vector_index_type, "m": 16, "ef_construction": 100},
    }
    if vector_dims:
        vector["dims"] = int(vector_dims)
    english = {"type": "text", "analyzer": "english"}
    return {
        "dynamic": "strict",
        "properties": {
            "doc_id": {"type": "keyword"},
            "body": english,
            "title": english,
            "abstract": english,
            "mesh_terms": english,
            "keywords": english,
            "evidence_level": {"type": "keyword"},
            "publication_year": {"type": "integer"},
            "publication_types": {"type": "keyword"},
            "journal": {"type": "keyword"},
            "language": {"type": "keyword"},
            "free_full_text": {"type": "boolean"},
            "retracted": {"type": "boolean"},
            "tags": {"type": "keyword"},
            "content_hash": {"type": "keyword"},
            "vector_model": {"type": "keyword"},
            VECTOR_FIELD: vector,
        },
    }


def index_template(
    *, pattern: str, shards: int, replicas: int, vector_dims: int | None, vector_index_type: str
) -> dict[str, Any]:
    """Return the body of the composable index template that every generation index gets."""
    return {
        "index_patterns": [pattern],
        "priority": 500,
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
            "mappings": index_mappings(vector_dims=vector_dims, vector_index_type=vector_index_type),
        },
        "_meta": {"managed_by": "evidence-portal"},
    }


def source_of(doc: IndexDocument, *, title_repeat: int = DEFAULT_TITLE_REPEAT) -> dict[str, Any]:
    """Return the stored ``_source`` of one document (the vector only when present)."""
    body: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "body": " ".join([doc.title] * max(title_repeat, 1) + [doc.abstract]),
        "title": doc.title,
        "abstract": doc.abstract,
        "mesh_terms": list(doc.mesh_terms),
        "keywords": list(doc.keywords),
        "evidence_level": doc.evidence_level,
        "publication_year": doc.publication_year,
        "publication_types": list(doc.publication_types),
        "journal": doc.journal,
        "language": doc.language,
        "free_full_text": doc.free_full_text,
        "retracted": doc.retracted,
        "tags": list(doc.tags),
        "content_hash": doc.content_hash,
    }
    if doc.vector is not None:
        body[VECTOR_FIELD] = [float(v) for v in doc.vector]
        body["vector_model"] = doc.vector_model
    return body


def _any_term(field: str, values: Sequence[str], *, case_insensitive: bool = False) -> dict[str, Any]:
    clauses = [{"term": {field: {"value": v, "case_insensitive": case_insensitive}}} for v in values]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def filter_clauses(filters: SearchFilters) -> list[dict[str, Any]]:
    """Return non-scoring clauses keeping only documents that pass ``filters``."""
    out: list[dict[str, Any]] = []
    if filters.evidence_levels:
        out.append({"terms": {"evidence_level": list(filters.evidence_levels)}})
    if filters.year_from is not None or filters.year_to is not None:
        bounds: dict[str, int] = {}
        if filters.year_from is not None:
            bounds["gte"] = int(filters.year_from)
        if filters.year_to is not None:
            bounds["lte"] = int(filters.year_to)
        out.append({"range": {"publication_year": bounds}})
    if filters.publication_types:
        out.append(_any_term("publication_types", filters.publication_types, case_insensitive=True))
    if filters.free_full_text is not None:
        out.append({"term": {"free_full_text": bool(filters.free_full_text)}})
    if filters.languages:
        out.append(_any_term("language", filters.languages, case_insensitive=True))
    if not filters.include_retracted:
        out.append({"term": {"retracted": False}})
    for group in filters.tag_groups:
        out.append({"terms": {"tags": list(group)}})
    return out


def filter_query(filters: SearchFilters) -> dict[str, Any]:
    """Return a query matching every document that passes ``filters``."""
    clauses = filter_clauses(filters)
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def _fields(weights: dict[str, float]) -> list[str]:
    return [f"{name}^{weights.get(name, 1.0):g}" for name in TEXT_FIELDS if weights.get(name, 1.0) > 0]


def _phrase_fields(weights: dict[str, float]) -> list[str]:
    # Like the embedded backend: a phrase may match in any field, unweighted ones barely count.
    return [f"{name}^{max(weights.get(name, 1.0), 0.01):g}" for name in TEXT_FIELDS]


def lexical_query(query: LexicalQuery, filters: SearchFilters, weights: dict[str, float]) -> dict[str, Any] | None:
    """Return the BM25 query for ``query`` (None when nothing is searchable).

    Free terms are OR-ed; each is scored in every text field with that field's boost (like the
    embedded backend's per-field term clauses). Quoted phrases must match in some field. Filters
    go in the non-scoring ``filter`` part of the same query.
    """
    term_weights = list(query.term_weights) + [1.0] * (len(query.terms) - len(query.term_weights))
    should = []
    for term, weight in zip(query.terms, term_weights, strict=False):
        if term.strip() and weight > 0:
            fields = _fields(weights)
            should.append({"multi_match": {"query": term, "fields": fields, "type": "most_fields", "boost": weight}})
    must = []
    for phrase in query.phrases:
        if phrase.strip():
            must.append({"multi_match": {"query": phrase, "fields": _phrase_fields(weights), "type": "phrase"}})
    if not should and not must:
        return None
    body: dict[str, Any] = {"filter": filter_clauses(filters)}
    if must:
        body["must"] = must
    if should:
        body["should"] = should
        # Free terms are optional beside a required phrase, required (any of them) otherwise.
        body["minimum_should_match"] = 0 if must else 1
    return {"bool": body}


def knn_clause(
    vector: Sequence[float], filters: SearchFilters, limit: int, *, candidate_factor: float = DEFAULT_CANDIDATE_FACTOR
) -> dict[str, Any]:
    """Return the top-level ``knn`` section: ``limit`` nearest, the filters applied inside, each
    shard exploring ``candidate_factor`` x ``limit`` candidates (at least 100)."""
    candidates = min(max(math.ceil(limit * candidate_factor), 100), MAX_NUM_CANDIDATES)
    clause: dict[str, Any] = {
        "field": VECTOR_FIELD,
        "query_vector": [float(v) for v in vector],
        "k": limit,
        "num_candidates": max(candidates, limit),
    }
    clauses = filter_clauses(filters)
    if clauses:
        clause["filter"] = clauses
    return clause


# Hits carry only the id, read from doc values: fetching each hit's stored ``_id`` cost more than
# the query itself (200 hits at 100,000 documents: 20 ms against 8 ms; bench/production.py).
IDS_ONLY: dict[str, Any] = {"source": False, "stored_fields": "_none_", "docvalue_fields": ["doc_id"]}


def hit_doc_id(hit: dict[str, Any]) -> str:
    """Return the document id of a hit fetched with ``IDS_ONLY``."""
    return str(hit["fields"]["doc_id"][0])


def cosine_from_score(score: float) -> float:
    """Elasticsearch scores cosine similarity as (1 + cos) / 2; return the cosine itself."""
    return 2.0 * float(score) - 1.0


def facet_aggregations() -> dict[str, Any]:
    """Return one terms aggregation per facet, and one over the tags (split into facets later)."""
    aggregations = {name: {"terms": {"field": field, "size": FACET_BUCKETS}} for name, field in FACET_FIELDS.items()}
    aggregations[TAGS_AGGREGATION] = {"terms": {"field": "tags", "size": FACET_BUCKETS}}
    return aggregations


def facet_counts_from(aggregations: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Turn the aggregation response into ``{facet: {value: count}}`` like the embedded backend."""
    facets: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS}
    for name in FACET_FIELDS:
        for bucket in aggregations.get(name, {}).get("buckets", []):
            if name == "free_full_text":
                key = "yes" if bucket.get("key_as_string") == "true" or bucket["key"] in (1, True) else "no"
            else:
                key = str(bucket["key"])
            if key == "":
                continue
            facets[name][key] = facets[name].get(key, 0) + int(bucket["doc_count"])
    tag_counts = tag_facets(())
    for bucket in aggregations.get(TAGS_AGGREGATION, {}).get("buckets", []):
        name, _, value = str(bucket["key"]).partition(":")
        if name in tag_counts and value:
            tag_counts[name][value] = tag_counts[name].get(value, 0) + int(bucket["doc_count"])
    facets.update(tag_counts)
    return facets


def mapping_conflicts(properties: dict[str, Any]) -> list[str]:
    """Return a line per field whose mapped type differs from the one this backend needs."""
    problems = []
    for field, expected in EXPECTED_TYPES.items():
        mapped = properties.get(field, {}).get("type", "object" if "properties" in properties.get(field, {}) else None)
        if mapped is not None and mapped != expected:
            problems.append(f"field {field!r} is mapped as {mapped}, expected {expected}")
    for field in TEXT_FIELDS:
        analyzer = properties.get(field, {}).get("analyzer")
        if properties.get(field, {}).get("type") == "text" and analyzer not in (None, "english"):
            problems.append(f"field {field!r} uses analyzer {analyzer}, expected english")
    return problems
