"""A small generated corpus for exercising the classifier's machinery (not its accuracy).

Accuracy is measured on real PubMed records (test_classifier_shared_data.py); these texts only
give each class words of its own, from a seeded generator, so training is quick and repeatable.
"""

from __future__ import annotations

import random

from records.evidence.training import Example

TOPICS = ["hypertension", "asthma", "diabetes", "migraine", "obesity", "sepsis", "stroke", "dementia", "anaemia"]
FILLER = ["patients", "outcome", "treatment", "risk", "adults", "children", "dose", "effect", "cohort", "clinic"]
RCT_WORDS = ["randomised", "placebo", "double-blind", "allocated", "trial", "registration", "nct01234567"]
SR_WORDS = ["systematic review", "meta-analysis", "searched", "pubmed", "embase", "pooled", "included studies"]
COHORT_WORDS = ["cohort", "prospective", "followed", "person-years", "hazard", "incidence", "baseline"]


def corpus(size: int = 360, seed: int = 7) -> list[Example]:
    """Return ``size`` labelled examples: a third RCTs, a third systematic reviews, a third cohort studies."""
    rng = random.Random(seed)
    rows = []
    for i in range(size):
        kind = i % 3
        topic = rng.choice(TOPICS)
        words = [rng.choice(FILLER) for _ in range(25)]
        if kind == 0:
            words += rng.sample(RCT_WORDS, 4)
            title = f"A randomised trial of a new drug for {topic}"
            types = ("Journal Article", "Randomized Controlled Trial")
        elif kind == 1:
            words += rng.sample(SR_WORDS, 4)
            title = f"Treatments for {topic}: a systematic review and meta-analysis"
            types = ("Journal Article", "Meta-Analysis")
        else:
            words += rng.sample(COHORT_WORDS, 4)
            title = f"Outcomes of {topic} in a regional cohort"
            types = ("Journal Article",)
        rng.shuffle(words)
        mesh = ("Humans", topic.title(), "Cohort Studies") if kind == 2 else ("Humans", topic.title())
        rows.append(
            Example(
                pmid=str(30000000 + i),
                title=title,
                abstract=" ".join(words) + ".",
                publication_types=types,
                mesh_descriptors=mesh,
                publication_status="MEDLINE",
                group=f"file-{i % 4}",
                journal=rng.choice(["Journal of Things", "Clinical Reports", "The Review"]),
                section_labels=("BACKGROUND", "METHODS", "RESULTS") if i % 2 else (),
            )
        )
    return rows
