"""FHIR clinical-guideline resources: CPG-on-FHIR PlanDefinitions and EBM-on-FHIR Compositions.

* CPG-on-FHIR: each top-level ``PlanDefinition.action`` carrying the
  ``cqf-strengthOfRecommendation`` extension is a recommendation (``cqf-qualityOfEvidence``
  gives the certainty). PlanDefinitions documenting the same guideline (``relatedArtifact`` of
  type documentation) form one guideline.
* EBM-on-FHIR: a Composition typed "Guideline" lists its recommendations as section entries
  referencing Compositions typed "Recommendation"; the ratings (strength, direction, certainty)
  sit in an ArtifactAssessment whose ``artifactReference`` points at the recommendation (or
  that the recommendation's "ratings"/"justification" section references). Text is kept as
  written, in the document's language (AWMF guidelines are German); ``language`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ingest.guidelines.strength import StrengthRating, certainty_from_text, normalise_strength, wording_rating
from ingest.guidelines.text import clean_inline, html_fragment_to_lines
from ingest.guidelines.types import Certainty, Direction, ParsedGuideline, ParsedRecommendation, Strength

EXT_STRENGTH = "http://hl7.org/fhir/StructureDefinition/cqf-strengthOfRecommendation"
EXT_QUALITY = "http://hl7.org/fhir/StructureDefinition/cqf-qualityOfEvidence"
EXT_SECTION_LANGUAGE = "ext-section-language"

_FHIR_STRENGTH = {"strong": Strength.STRONG, "weak": Strength.CONDITIONAL, "conditional": Strength.CONDITIONAL}
_FHIR_QUALITY = {
    "high": Certainty.HIGH,
    "moderate": Certainty.MODERATE,
    "low": Certainty.LOW,
    "very-low": Certainty.VERY_LOW,
    "very_low": Certainty.VERY_LOW,
}
_ADA_LEVEL = {"a": Certainty.HIGH, "b": Certainty.MODERATE, "c": Certainty.LOW}

Resource = dict[str, Any]


def is_fhir_resource(value: Any) -> bool:
    """True for a dict that looks like a FHIR resource this reader uses (or a Bundle)."""
    return isinstance(value, dict) and value.get("resourceType") in {
        "PlanDefinition",
        "Composition",
        "ArtifactAssessment",
        "Bundle",
    }


def flatten_resources(resources: Iterable[Any]) -> list[Resource]:
    """Return the resources, with Bundle entries unpacked (one level of nesting per Bundle)."""
    out: list[Resource] = []
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Bundle":
            out.extend(flatten_resources(e.get("resource") for e in resource.get("entry") or [] if isinstance(e, dict)))
        else:
            out.append(resource)
    return out


def guideline_keys(resource: Resource) -> set[str]:
    """Return the keys that tie a resource to the other resources of its guideline.

    Used to group files of one guideline before parsing: a Composition's own reference and
    url, what it is part of and what it references; an assessment's target; a PlanDefinition's
    documentation artifact.
    """
    keys = set(_self_keys(resource))
    for relation in resource.get("relatesTo") or []:
        if isinstance(relation, dict):
            keys.update(_target_keys(relation))
    target = resource.get("artifactReference")
    if isinstance(target, dict) and target.get("reference"):
        keys.add(_key(target["reference"]))
    for section in _walk_sections(resource.get("section") or []):
        for entry in section.get("entry") or []:
            if isinstance(entry, dict) and entry.get("reference"):
                keys.add(_key(entry["reference"]))
    if resource.get("resourceType") == "PlanDefinition":
        doc = _documentation(resource)
        if doc:
            keys.add("doc:" + doc[0])
    return keys


def parse_fhir_resources(resources: Sequence[dict]) -> list[ParsedGuideline]:
    """Return the guidelines the given FHIR resources encode (empty when none is a guideline).

    Never raises on unexpected structure: missing parts are skipped.
    """
    items = flatten_resources(resources)
    guidelines = _plan_definition_guidelines([r for r in items if r.get("resourceType") == "PlanDefinition"])
    guidelines.extend(_composition_guidelines(items))
    return guidelines


# --- CPG-on-FHIR -----------------------------------------------------------------------------


def _plan_definition_guidelines(plans: list[Resource]) -> list[ParsedGuideline]:
    groups: dict[str, list[Resource]] = {}
    titles: dict[str, str] = {}
    urls: dict[str, str] = {}
    for plan in plans:
        if not any(_extension(a, EXT_STRENGTH) for a in plan.get("action") or [] if isinstance(a, dict)):
            continue
        doc = _documentation(plan)
        key = doc[0] if doc else str(plan.get("url") or plan.get("id") or "")
        groups.setdefault(key, []).append(plan)
        titles.setdefault(key, doc[0] if doc else clean_inline(str(plan.get("title") or plan.get("name") or "")))
        urls.setdefault(key, doc[1] if doc else str(plan.get("url") or ""))
    guidelines = []
    for key, members in groups.items():
        members.sort(key=lambda p: _plan_number_sort(str(p.get("title") or "")))
        recommendations: list[ParsedRecommendation] = []
        sections: list[str] = []
        first = members[0]
        for plan in members:
            plan_title = clean_inline(str(plan.get("title") or plan.get("name") or ""))
            number = _plan_number(plan_title)
            actions = [a for a in plan.get("action") or [] if isinstance(a, dict) and _extension(a, EXT_STRENGTH)]
            if re.search(r"(?i)\brecommendations? #\s*\d", plan_title):
                actions = actions[:1]  # the title names one recommendation; later actions are CDS cards
            sections.append(plan_title)
            for index, action in enumerate(actions):
                recommendations.append(_action_recommendation(action, plan_title, number, index, len(recommendations)))
        guidelines.append(
            ParsedGuideline(
                source="fhir",
                source_id=urls[key] or key,
                title=titles[key],
                issuer=clean_inline(str(first.get("publisher") or "")),
                year=_year_in(titles[key]) or _year(first.get("date")),
                url=urls[key],
                version=str(first.get("version") or ""),
                language=str(first.get("language") or ""),
                sections=tuple(sections),
                recommendations=tuple(recommendations),
                extra={"plan_definitions": ",".join(str(p.get("id") or "") for p in members)},
            )
        )
    return guidelines


def _action_recommendation(
    action: Resource, plan_title: str, number: str, index: int, position: int
) -> ParsedRecommendation:
    strength_code = _coding_code(_extension(action, EXT_STRENGTH))
    quality_code = _coding_code(_extension(action, EXT_QUALITY))
    text = clean_inline(str(action.get("description") or action.get("title") or ""))
    strength = _FHIR_STRENGTH.get(strength_code, normalise_strength(strength_code).strength)
    direction = wording_rating(text).direction or Direction.FOR
    own_number = number if index == 0 else f"{number or position + 1}.{index + 1}"
    own_number = own_number or str(position + 1)
    wording = "; ".join(
        p for p in (f"strength of recommendation: {strength_code}", f"quality of evidence: {quality_code}") if p
    )
    return ParsedRecommendation(
        number=own_number,
        text=text,
        section=plan_title,
        strength=strength,
        certainty=_FHIR_QUALITY.get(quality_code, ""),
        direction=direction if strength != Strength.INSUFFICIENT else "",
        grade=strength_code,
        strength_wording=wording,
        anchor="rec-" + re.sub(r"[^a-z0-9]+", "-", own_number.lower()).strip("-"),
    )


def _documentation(plan: Resource) -> tuple[str, str] | None:
    for artifact in plan.get("relatedArtifact") or []:
        if isinstance(artifact, dict) and artifact.get("type") in {"documentation", "citation", "derived-from"}:
            url = str(artifact.get("url") or (artifact.get("document") or {}).get("url") or "")
            display = clean_inline(str(artifact.get("display") or artifact.get("label") or ""))
            if url or display:
                return display or url, url or display
    return None


def _plan_number(title: str) -> str:
    numbers = re.findall(r"#\s*(\d+)", title)
    return "-".join(numbers)


def _plan_number_sort(title: str) -> tuple[int, str]:
    numbers = re.findall(r"#\s*(\d+)", title)
    return (int(numbers[0]) if numbers else 10_000, title)


# --- EBM-on-FHIR -----------------------------------------------------------------------------


def _composition_guidelines(items: list[Resource]) -> list[ParsedGuideline]:
    index: dict[str, Resource] = {}
    for resource in items:
        for key in _self_keys(resource):
            index.setdefault(key, resource)
    compositions = [r for r in items if r.get("resourceType") == "Composition"]
    assessments = [r for r in items if r.get("resourceType") == "ArtifactAssessment"]
    guidelines_docs = [c for c in compositions if _type_code(c) == "guideline"]
    rec_docs = [c for c in compositions if _type_code(c) == "recommendation"]
    claimed: set[int] = set()
    guidelines = []
    for doc in guidelines_docs:
        recs, sections = _guideline_parts(doc, index, assessments, claimed)
        # Recommendations that say they are part of this guideline but are not listed in it.
        own = set(_self_keys(doc))
        for rec in rec_docs:
            if id(rec) not in claimed and _part_of(rec) & own:
                recs.extend(_recommendations_of(rec, index, assessments, claimed, section=""))
        guidelines.append(_guideline(doc, recs, sections))
    for rec in rec_docs:
        if id(rec) in claimed:
            continue
        parts = _recommendations_of(rec, index, assessments, claimed, section="")
        if parts:
            guidelines.append(_guideline(rec, parts, []))
    return guidelines


def _guideline(doc: Resource, recs: list[ParsedRecommendation], sections: list[str]) -> ParsedGuideline:
    numbered = []
    for position, rec in enumerate(recs, start=1):
        if not rec.number:
            rec = _replace(rec, number=str(position), anchor=f"rec-{position}")
        numbered.append(rec)
    language = _language(doc)
    if not language:
        language = _guess_language(" ".join(r.text for r in numbered[:5]))
    identifier = ""
    for ident in doc.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            identifier = str(ident["value"])
            break
    return ParsedGuideline(
        source="fhir",
        source_id=str(doc.get("url") or f"Composition/{doc.get('id') or identifier}"),
        title=clean_inline(str(doc.get("title") or doc.get("name") or doc.get("id") or "")),
        issuer=_issuer(doc),
        year=_year(doc.get("date")),
        url=str(doc.get("url") or ""),
        version=str(doc.get("version") or ""),
        language=language,
        sections=tuple(sections),
        recommendations=tuple(numbered),
        extra={"identifier": identifier} if identifier else {},
    )


def _guideline_parts(
    doc: Resource, index: dict[str, Resource], assessments: list[Resource], claimed: set[int]
) -> tuple[list[ParsedRecommendation], list[str]]:
    recs: list[ParsedRecommendation] = []
    sections: list[str] = []

    def walk(section_list: list[Any], heading: str) -> None:
        for section in section_list:
            if not isinstance(section, dict):
                continue
            title = _section_title(section)
            if title:
                if not sections or sections[-1] != title:
                    sections.append(title)
                heading = title
            for entry in section.get("entry") or []:
                target = index.get(_key(str((entry or {}).get("reference") or "")))
                if target is not None and _type_code(target) == "recommendation" and id(target) not in claimed:
                    recs.extend(_recommendations_of(target, index, assessments, claimed, section=heading))
            walk(section.get("section") or [], heading)

    walk(doc.get("section") or [], "")
    return recs, sections


def _recommendations_of(
    rec: Resource, index: dict[str, Resource], assessments: list[Resource], claimed: set[int], *, section: str
) -> list[ParsedRecommendation]:
    claimed.add(id(rec))
    statement = next(
        (s for s in _walk_sections(rec.get("section") or []) if _code(s.get("code")) == "recommendation-statement"),
        None,
    )
    if statement is None:
        return []
    text = _section_text(statement)
    if not text:
        # A statement made of sub-recommendations (AWMF "HAPDiagnosis" -> A, B).
        out = []
        for entry in statement.get("entry") or []:
            target = index.get(_key(str((entry or {}).get("reference") or "")))
            if target is not None and id(target) not in claimed:
                out.extend(_recommendations_of(target, index, assessments, claimed, section=section))
        return out
    rating, grade, wording = _rating(rec, index, assessments)
    if not rating.strength:
        from_words = wording_rating(text)
        rating = StrengthRating(from_words.strength, rating.certainty, rating.direction or from_words.direction)
        wording = "; ".join(w for w in (wording, "wording of the statement") if w)
    number_match = re.match(r"^(\d{1,2}\.\d{1,3}[a-z]?)\s+", text)
    number = number_match.group(1) if number_match else ""
    if number_match:
        text = text[number_match.end() :]
    return [
        ParsedRecommendation(
            number=number,
            text=text,
            section=section or clean_inline(str(rec.get("title") or "")),
            strength=rating.strength,
            certainty=rating.certainty,
            direction=rating.direction if rating.strength != Strength.INSUFFICIENT else "",
            grade=grade,
            strength_wording=wording,
            anchor=f"rec-{number.replace('.', '-')}" if number else "",
            source_url=str(rec.get("url") or ""),
        )
    ]


def _rating(rec: Resource, index: dict[str, Resource], assessments: list[Resource]) -> tuple[StrengthRating, str, str]:
    own = _self_keys(rec)
    related: list[Resource] = [
        a for a in assessments if _key(str((a.get("artifactReference") or {}).get("reference") or "")) in own
    ]
    for section in _walk_sections(rec.get("section") or []):
        if _code(section.get("code")) in {"ratings", "justification", "evidence", "recommendation-statement"}:
            for entry in section.get("entry") or []:
                target = index.get(_key(str((entry or {}).get("reference") or "")))
                if target is not None and target.get("resourceType") == "ArtifactAssessment" and target not in related:
                    related.append(target)
    strength = certainty = direction = grade = system = ""
    words: list[str] = []
    for assessment in related:
        for content in _walk_content(assessment.get("content") or []):
            kind = _code(content.get("type")).lower()
            value = _classifier_text(content)
            if not value:
                continue
            if kind == "strength-of-recommendation" and not strength:
                strength = normalise_strength(value).strength
                words.append(f"strength: {value}")
                grade = grade or value
            elif kind == "direction-of-recommendation" and not direction:
                direction = normalise_strength(value).direction or (
                    Direction.AGAINST if re.search(r"(?i)against|gegen", value) else Direction.FOR
                )
                words.append(f"direction: {value}")
            elif kind in {"overall", "certainty-of-evidence", "overall-quality-of-evidence", "quality-of-evidence"}:
                if not certainty:
                    certainty = certainty_from_text(value) or _ADA_LEVEL.get(value.strip().lower(), "")
                    words.append(f"certainty: {value}")
            elif kind == "rating-system" and not system:
                system = value
            elif kind == "ratings" and not grade:
                grade = value
    if not certainty and grade and re.search(r"(?i)level of evidence", system):
        certainty = _ADA_LEVEL.get(grade.strip().lower(), "")
        words.append(f"{system} {grade}")
    return StrengthRating(strength, certainty, direction), grade, "; ".join(words)


# --- helpers ---------------------------------------------------------------------------------


def _replace(rec: ParsedRecommendation, **changes: str) -> ParsedRecommendation:
    from dataclasses import replace

    return replace(rec, **changes)


def _key(reference: str) -> str:
    reference = reference.split("|", 1)[0].strip()
    match = re.search(r"([A-Za-z]+/[A-Za-z0-9\-.]+)$", reference)
    return match.group(1) if match else reference


def _self_keys(resource: Resource) -> list[str]:
    keys = []
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if rtype and rid:
        keys.append(f"{rtype}/{rid}")
    if resource.get("url"):
        keys.append(_key(str(resource["url"])))
    return keys


def _target_keys(relation: Resource) -> list[str]:
    keys = []
    target = relation.get("targetReference") or relation.get("resourceReference")
    if isinstance(target, dict) and target.get("reference"):
        keys.append(_key(str(target["reference"])))
    for field in ("targetCanonical", "targetUri", "resource"):
        if isinstance(relation.get(field), str):
            keys.append(_key(relation[field]))
    return keys


def _part_of(rec: Resource) -> set[str]:
    keys: set[str] = set()
    for relation in rec.get("relatesTo") or []:
        if isinstance(relation, dict) and _code(relation.get("type")) in {"part-of", "partof"}:
            keys.update(_target_keys(relation))
    return keys


def _code(concept: Any) -> str:
    if isinstance(concept, str):
        return concept
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
        return str(concept.get("text") or "")
    return ""


def _type_code(resource: Resource) -> str:
    return _code(resource.get("type")).lower()


def _coding_code(extension: Resource | None) -> str:
    if not extension:
        return ""
    concept = extension.get("valueCodeableConcept") or {}
    return _code(concept).lower() or str(extension.get("valueCode") or "").lower()


def _extension(element: Resource, url: str) -> Resource | None:
    for ext in element.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def _walk_sections(sections: list[Any]) -> Iterable[Resource]:
    for section in sections:
        if isinstance(section, dict):
            yield section
            yield from _walk_sections(section.get("section") or [])


def _walk_content(contents: list[Any]) -> Iterable[Resource]:
    for content in contents:
        if isinstance(content, dict):
            yield content
            yield from _walk_content(content.get("component") or [])


def _classifier_text(content: Resource) -> str:
    for classifier in content.get("classifier") or []:
        if not isinstance(classifier, dict):
            continue
        if classifier.get("text"):
            return clean_inline(str(classifier["text"]))
        for coding in classifier.get("coding") or []:
            if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
                value = str(coding.get("display") or coding.get("code"))
                if value.strip(". "):
                    return clean_inline(value)
    return ""


def _div_text(section: Resource) -> str:
    div = (section.get("text") or {}).get("div") if isinstance(section.get("text"), dict) else None
    if not isinstance(div, str) or not div.strip():
        return ""
    lines = [line.lstrip("#• ").strip() for line in html_fragment_to_lines(div)]
    text = "\n".join(line for line in lines if line and line not in {"[No data.]", "[[]]"})
    return text


def _section_text(section: Resource) -> str:
    text = _div_text(section)
    if text:
        return text
    # AWMF: the text sits in per-language subsections; the first is the original language.
    for sub in section.get("section") or []:
        if isinstance(sub, dict):
            text = _div_text(sub)
            if text:
                return text
    return ""


def _section_title(section: Resource) -> str:
    if section.get("title"):
        return clean_inline(str(section["title"]))
    if _code(section.get("code")) == "language":
        return ""
    subs = [s for s in section.get("section") or [] if isinstance(s, dict) and s.get("title")]
    return clean_inline(str(subs[0]["title"])) if subs else ""


def _language(doc: Resource) -> str:
    if doc.get("language"):
        return str(doc["language"])
    for section in _walk_sections(doc.get("section") or []):
        for ext in section.get("extension") or []:
            if isinstance(ext, dict) and str(ext.get("url", "")).endswith(EXT_SECTION_LANGUAGE):
                return str(ext.get("valueCode") or "")
    return ""


def _guess_language(text: str) -> str:
    words = re.findall(r"[a-zäöüß]+", text.lower())
    if not words:
        return ""
    german = sum(
        w in {"der", "die", "das", "und", "soll", "sollte", "bei", "mit", "nicht", "werden", "eine"} for w in words
    )
    return "de" if german >= 2 and german / len(words) > 0.05 else ""


def _issuer(doc: Resource) -> str:
    if doc.get("publisher"):
        return clean_inline(str(doc["publisher"]))
    haystack = " ".join(
        [str(doc.get("meta") or ""), " ".join(str(i.get("system", "")) for i in doc.get("identifier") or [])]
    )
    if "awmf.org" in haystack:
        return "AWMF"
    title = str(doc.get("title") or "")
    match = re.search(r"\b(ADA|AHA|ACC|WHO|NICE|CDC|USPSTF)\b", title)
    if match:
        return match.group(1)
    custodian = doc.get("custodian")
    return clean_inline(str(custodian.get("display") or "")) if isinstance(custodian, dict) else ""


def _year_in(title: str) -> int | None:
    match = re.search(r"\b((?:19|20)\d\d)\b", title or "")
    return int(match.group(1)) if match else None


def _year(value: Any) -> int | None:
    match = re.match(r"^((?:19|20)\d\d)", str(value or ""))
    return int(match.group(1)) if match else None
