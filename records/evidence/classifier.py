"""The study-design classifier: title + abstract -> RCT / systematic review / other.

A linear model (one-vs-rest logistic regression) over TF-IDF word n-grams of the title and
abstract, title words as their own features, and a few design cue counts. Publication types and
MeSH headings never reach the input: they are the labels. The artifact is plain JSON (no pickle:
loading it runs no code), written byte-for-byte the same for the same data, and named by its
SHA-256, so a record stores which model predicted its grade.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from records.evidence.levels import EvidenceLevel

ARTIFACT_NAME = "model.json"
METRICS_NAME = "metrics.json"
FORMAT = "evidence-design-classifier/2"
CLASSES: tuple[EvidenceLevel, ...] = (EvidenceLevel.RCT, EvidenceLevel.SYSTEMATIC_REVIEW)
OTHER = "other"
SEED = 20240611

WORD_REGEX = r"(?u)\b\w[\w-]*\w\b|\b\w\b"
# Design cues counted in title + abstract ("t:" patterns look at the title only). "\s*" where
# some source files glue words together ("systematicreview").
CUES: tuple[tuple[str, str], ...] = (
    ("randomised", r"randomi[sz]ed|randomly (?:assigned|allocated)|randomi[sz]ation"),
    (
        "rct_phrase",
        r"randomi[sz]ed,? (?:double[- ]blind(?:ed)?,? )?(?:placebo[- ]controlled,? )?"
        r"(?:controlled|clinical|comparative|pilot|crossover|cross-over|feasibility) (?:clinical )?trial",
    ),
    (
        "were_randomised",
        r"(?:were|was|being) (?:randomi[sz]ed|randomly|assigned at random|allocated at random)|at random to"
        r"|randomi[sz]ed (?:to|into|in a)\b|randomi[sz]ed \d|\d+:\d+ (?:ratio|randomi)",
    ),
    ("placebo", r"placebo"),
    ("blinded", r"double[- ]blind|single[- ]blind|triple[- ]blind|masked"),
    ("registration", r"clinicaltrials\.gov|\bnct\d{6,}|isrctn|actrn|chictr|trial registration"),
    ("allocated", r"\ballocated\b|\bassigned to\b"),
    (
        "trial_conduct",
        r"phase (?:i{1,3}|iv|[1-4])[ab]?\b|open[- ]label|cross-?over|intention[- ]to[- ]treat|per[- ]protocol"
        r"|consort|allocation concealment",
    ),
    ("outcomes", r"primary (?:end ?point|outcome|efficacy)|secondary (?:end ?point|outcome)s?\b"),
    ("enrolled", r"\benrolled\b|\brecruited\b|\bparticipants\b"),
    ("systematic_review", r"systematic(?:ally)?\s*review"),
    ("meta_analysis", r"meta-?\s*analy[sz]"),
    ("databases", r"pubmed|medline|embase|cochrane|web of science|scopus|cinahl|psycinfo"),
    ("searched", r"\bsearched\b|search of|literature search|search strategy"),
    ("prisma", r"prisma|prospero|crd ?42\d"),
    ("pooled", r"\bpooled\b|random[- ]effects?|fixed[- ]effects?|heterogeneity|forest plot"),
    (
        "pooled_measure",
        r"pooled (?:odds|risk|hazard|relative|mean|standardi[sz]ed|prevalence|estimate|analysis|effect"
        r"|sensitivity|specificity)|\b(?:smd|wmd|i2|i\(2\))\b|i² ?=|grade approach|risk of bias",
    ),
    (
        "included_studies",
        r"studies (?:were )?included|included studies|eligible studies|\d+ (?:studies|trials|articles)",
    ),
    (
        "n_included",
        r"\d+ (?:randomi[sz]ed )?(?:controlled )?(?:trials|rcts|studies)(?: were| met| with)? "
        r"(?:included|identified|eligible|involving)"
        r"|(?:included|identified|total of) \d+ (?:randomi[sz]ed |eligible )?(?:studies|trials|rcts|articles)",
    ),
    ("protocol", r"\bprotocol\b|\bwill be\b|\bwe will\b"),
    ("secondary", r"post[- ]hoc|secondary analys|ancillary|sub-?study|extension study"),
    ("observational", r"retrospective|cohort|cross-sectional|case[- ]control|case report|registry|in vitro"),
    # Veterinary trials are graded preclinical, not RCT.
    (
        "animals",
        r"\b(?:dogs?|cats?|canine|feline|horses?|equine|cattle|cows?|calves|pigs?|piglets|swine|sheep|goats?"
        r"|broilers?|chickens?|hens|poultry|mice|rats?|zebrafish|veterinary)\b",
    ),
    ("narrative_review", r"this review|we review|narrative review|scoping review|overview of"),
    ("t:randomised", r"randomi[sz]ed|randomi[sz]ation"),
    ("t:trial", r"\btrial\b"),
    ("t:systematic_review", r"systematic\s*review"),
    ("t:meta_analysis", r"meta-?\s*analy[sz]"),
    ("t:review", r"\breview\b"),
    ("t:protocol", r"\bprotocol\b"),
)
_CUES = tuple((name, re.compile(pattern)) for name, pattern in CUES)


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """Return the logistic function of linear decision scores: probabilities."""
    return 1.0 / (1.0 + np.exp(-scores))


def model_text(title: str, abstract: str) -> str:
    """Return the classifier's input: title and abstract only, lower-cased."""
    return f"{title}\n{abstract}".lower()


def cue_features(title: str, abstract: str) -> list[float]:
    """Return log(1 + count) of each design cue, then 1.0 when there is no abstract."""
    text = model_text(title, abstract)
    lowered_title = title.lower()
    values = []
    for name, pattern in _CUES:
        target = lowered_title if name.startswith("t:") else text
        values.append(math.log1p(len(pattern.findall(target))))
    values.append(0.0 if abstract.strip() else 1.0)
    return values


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict for one text: a level (UNKNOWN below threshold) and probabilities."""

    level: EvidenceLevel
    probability: float  # of the predicted level; for UNKNOWN, 1 - that of the most likely design class
    probabilities: dict[str, float]


@dataclass
class _Tfidf:
    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import CountVectorizer

        counts = CountVectorizer(
            vocabulary=self.vocabulary, ngram_range=self.ngram_range, token_pattern=WORD_REGEX, dtype=np.float64
        ).transform(texts)
        counts = counts.tocsr()
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        weighted = counts.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted)


@dataclass
class DesignClassifier:
    """A trained model: vectorisers, one weight vector per class, decision thresholds."""

    text_tfidf: _Tfidf
    title_tfidf: _Tfidf
    weights: dict[str, np.ndarray]
    intercepts: dict[str, float]
    thresholds: dict[str, float]
    cue_scale: float = 1.0
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def features(self, titles: Sequence[str], abstracts: Sequence[str]) -> sparse.csr_matrix:
        texts = [model_text(t, a) for t, a in zip(titles, abstracts, strict=True)]
        cues = np.array([cue_features(t, a) for t, a in zip(titles, abstracts, strict=True)], dtype=np.float64)
        return sparse.hstack(
            [
                self.text_tfidf.transform(texts),
                self.title_tfidf.transform([t.lower() for t in titles]),
                sparse.csr_matrix(cues.reshape(len(texts), -1) * self.cue_scale),
            ]
        ).tocsr()

    def probabilities(self, titles: Sequence[str], abstracts: Sequence[str]) -> dict[str, np.ndarray]:
        """Return, per design class, the probability of each text (one array per class)."""
        if not titles:
            return {level.value: np.zeros(0) for level in CLASSES}
        matrix = self.features(titles, abstracts)
        result = {}
        for name, weight in self.weights.items():
            scores = matrix @ weight + self.intercepts[name]
            result[name] = sigmoid(scores)
        return result

    def predict(self, titles: Sequence[str], abstracts: Sequence[str]) -> list[Prediction]:
        """Return one Prediction per text: SR over RCT (the rules' precedence), UNKNOWN below threshold."""
        probs = self.probabilities(titles, abstracts)
        out = []
        for i in range(len(titles)):
            row = {name: float(values[i]) for name, values in probs.items()}
            level = EvidenceLevel.UNKNOWN
            for candidate in (EvidenceLevel.SYSTEMATIC_REVIEW, EvidenceLevel.RCT):
                if row[candidate.value] >= self.thresholds[candidate.value]:
                    level = candidate
                    break
            # For UNKNOWN: the probability that it is none of the design classes (1 - the best).
            probability = row[level.value] if level != EvidenceLevel.UNKNOWN else 1.0 - max(row.values())
            out.append(Prediction(level=level, probability=probability, probabilities=row))
        return out

    # --- the artifact -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Return the artifact: canonical JSON, the same bytes for the same model."""
        payload = {
            "format": FORMAT,
            "classes": [level.value for level in CLASSES],
            "cues": [name for name, _ in CUES],
            "cue_scale": self.cue_scale,
            "text_tfidf": _tfidf_json(self.text_tfidf),
            "title_tfidf": _tfidf_json(self.title_tfidf),
            "weights": {k: _array_json(v) for k, v in sorted(self.weights.items())},
            "intercepts": {k: float(v) for k, v in sorted(self.intercepts.items())},
            "thresholds": {k: float(v) for k, v in sorted(self.thresholds.items())},
            "info": self.info,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, *, version: str = "") -> DesignClassifier:
        """Load an artifact written by ``to_bytes``; raises ArtifactError when it is not one."""
        try:
            payload = json.loads(data)
            if str(payload.get("format")).startswith("evidence-design-classifier/") and payload["format"] != FORMAT:
                raise ArtifactError(
                    f"the artifact is of another format ({payload['format']}, not {FORMAT}): retrain it"
                )
            if payload.get("format") != FORMAT:
                raise ArtifactError(f"not a design classifier artifact (format {payload.get('format')!r})")
            if payload["cues"] != [name for name, _ in CUES]:
                raise ArtifactError("the artifact was trained with other design cues: retrain it")
            return cls(
                text_tfidf=_tfidf_from(payload["text_tfidf"]),
                title_tfidf=_tfidf_from(payload["title_tfidf"]),
                weights={k: _array_from(v) for k, v in payload["weights"].items()},
                intercepts={k: float(v) for k, v in payload["intercepts"].items()},
                thresholds={k: float(v) for k, v in payload["thresholds"].items()},
                cue_scale=float(payload["cue_scale"]),
                version=version,
                info=payload.get("info", {}),
            )
        except ArtifactError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise ArtifactError(f"the artifact is damaged ({error})") from None


class ArtifactError(Exception):
    """The model artifact is missing, damaged or of another format."""


def artifact_version(data: bytes) -> str:
    """Return the model version an artifact's bytes are named by."""
    return "design-" + hashlib.sha256(data).hexdigest()[:12]


def _array_json(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def _array_from(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").copy()


def _tfidf_json(tfidf: _Tfidf) -> dict[str, Any]:
    terms = sorted(tfidf.vocabulary, key=tfidf.vocabulary.__getitem__)
    return {"terms": terms, "idf": _array_json(tfidf.idf), "ngram_range": list(tfidf.ngram_range)}


def _tfidf_from(payload: dict[str, Any]) -> _Tfidf:
    terms = payload["terms"]
    low, high = payload["ngram_range"]
    return _Tfidf({term: i for i, term in enumerate(terms)}, _array_from(payload["idf"]), (int(low), int(high)))


def fit_tfidf(texts: Iterable[str], *, ngram_range: tuple[int, int], min_df: int, max_features: int | None) -> _Tfidf:
    """Fit a vocabulary (ties broken alphabetically, so it is deterministic) and smooth idf."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        ngram_range=ngram_range, min_df=min_df, max_features=max_features, token_pattern=WORD_REGEX
    )
    counts = vectorizer.fit_transform(list(texts)).tocsc()
    n_docs = counts.shape[0]
    df = np.diff(counts.indptr)
    idf = np.log((1 + n_docs) / (1 + df)) + 1.0
    return _Tfidf({term: int(i) for term, i in vectorizer.vocabulary_.items()}, idf.astype(np.float64), ngram_range)
