"""USPSTF Prevention TaskForce API JSON (``specificRecommendations``).

Each specific recommendation (one population) carries a grade, sex, age range and text. They
are grouped into one guideline per topic: the API's ``general`` id when present, else the title
before " -- ". The grade is kept as printed in ``grade`` and normalised as the USPSTF defines
it: A and B "recommends the service" -> strong, for; C "selectively offering" -> conditional,
for; D "recommends against" -> strong, against; I "evidence is insufficient" -> insufficient,
no direction. Certainty is not in the API, so it is left unstated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ingest.guidelines.strength import normalise_strength
from ingest.guidelines.text import clean_inline, html_fragment_to_lines
from ingest.guidelines.types import GuidelineParseError, ParsedGuideline, ParsedRecommendation

ISSUER = "U.S. Preventive Services Task Force"
TOPIC_URL = "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation-topics"


def parse_uspstf(data: bytes) -> list[ParsedGuideline]:
    """Return one guideline per topic of a Prevention TaskForce API response.

    Raises GuidelineParseError when the bytes are not JSON or hold no specific recommendations.
    """
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GuidelineParseError(f"not JSON: {exc}") from exc
    items = payload.get("specificRecommendations") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise GuidelineParseError("not a USPSTF API response: no specificRecommendations list")
    groups: dict[str, list[dict[str, Any]]] = {}
    titles: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict) or not item.get("text") or not item.get("title"):
            continue
        topic, _population = _split_title(str(item["title"]))
        key = str(item.get("general") or "") or _slug(topic)
        groups.setdefault(key, []).append(item)
        titles.setdefault(key, topic)
    if not groups:
        raise GuidelineParseError("the USPSTF response holds no specific recommendation with a title and text")
    guidelines = []
    for key, members in groups.items():
        recommendations = []
        for position, item in enumerate(members, start=1):
            recommendations.append(_recommendation(item, position))
        guidelines.append(
            ParsedGuideline(
                source="uspstf",
                source_id=f"general-{key}" if key.isdigit() else key,
                title=titles[key],
                issuer=ISSUER,
                url=TOPIC_URL,
                recommendations=tuple(recommendations),
                rating_scheme=__doc__.split("The grade is kept", 1)[1].strip() if __doc__ else "",
                extra={"specific_ids": ",".join(str(m.get("id", "")) for m in members)},
            )
        )
    return guidelines


def _recommendation(item: dict[str, Any], position: int) -> ParsedRecommendation:
    grade = str(item.get("grade") or "").strip().upper()
    rating = normalise_strength(f"{grade} recommendation") if grade in {"A", "B", "C", "D", "I"} else None
    _topic, population = _split_title(str(item["title"]))
    text = "\n".join(line.lstrip("#• ").strip() for line in html_fragment_to_lines(str(item["text"])))
    identifier = str(item.get("id") or position)
    return ParsedRecommendation(
        number=str(position),
        text=text,
        section=population,
        strength=rating.strength if rating else "",
        certainty="",
        direction=rating.direction if rating else "",
        grade=grade,
        strength_wording=f"Grade {grade}" if grade else "",
        population=_population(item, population),
        anchor=f"rec-{identifier}",
    )


def _split_title(title: str) -> tuple[str, str]:
    topic, _, population = clean_inline(title).partition(" -- ")
    return topic.strip(), population.strip()


def _population(item: dict[str, Any], described: str) -> str:
    parts = []
    sex = clean_inline(str(item.get("sex") or item.get("gender") or ""))
    if sex:
        parts.append(sex)
    ages = item.get("ageRange")
    if isinstance(ages, list) and len(ages) == 2 and all(isinstance(a, int | float) for a in ages):
        low, high = int(ages[0]), int(ages[1])
        parts.append(f"aged {low} years or older" if high >= 100 else f"aged {low} to {high} years")
    summary = ", ".join(parts)
    return f"{described} ({summary})" if described and summary else described or summary


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "topic"
