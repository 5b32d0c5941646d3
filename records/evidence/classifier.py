"""The study-design classifier: title, abstract, journal and abstract structure -> every rung.

A linear model (one-vs-rest logistic regressions, their scores turned into one calibrated
distribution by a softmax with a fitted temperature) over TF-IDF word n-grams of the title and
abstract, title words as their own features, design cue counts, and the journal and the labels
of a structured abstract. Publication types and MeSH headings never reach the input: they are
the labels. The artifact is plain JSON (no pickle: loading it runs no code), written
byte-for-byte the same for the same data, and named by its SHA-256, so a record stores which
model predicted its grade.
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

from records.evidence.levels import EvidenceLevel, expected_strength, level_info

ARTIFACT_NAME = "model.json"
METRICS_NAME = "metrics.json"
FORMAT = "evidence-design-classifier/3"
# Every rung of the scale: what the classifier can predict (UNKNOWN is its abstention).
CLASSES: tuple[EvidenceLevel, ...] = tuple(level for level in EvidenceLevel if level != EvidenceLevel.UNKNOWN)
SEED = 20240611
# Only the first characters of an abstract are read: a real abstract is 1-4 KB; a 100 KB one is
# a whole paper pasted in, and its design shows in its opening.
MAX_ABSTRACT_CHARS = 10_000
TOP_CUES = 5

WORD_REGEX = r"(?u)\b\w[\w-]*\w\b|\b\w\b"
_WORDS = re.compile(WORD_REGEX)
# Design cues counted in title + abstract ("t:" patterns look at the title only). A cue is a
# regular expression with the literal strings one of which any match contains (it runs only when
# one is present), LITERAL: the number of occurrences of its strings, or WORDS: the number of its
# words among the tokens. Literal counts and word sets keep grading fast (an alternation of words
# is slow in ``re``). "\s*" where some source files glue words ("systematicreview").
LITERAL = "<literal>"
WORDS = "<words>"
CUES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("randomised", r"randomi[sz]ed|randomly (?:assigned|allocated)|randomi[sz]ation", ("random",)),
    (
        "rct_phrase",
        r"randomi[sz]ed,? (?:double[- ]blind(?:ed)?,? )?(?:placebo[- ]controlled,? )?"
        r"(?:controlled|clinical|comparative|pilot|crossover|cross-over|feasibility) (?:clinical )?trial",
        ("randomi",),
    ),
    (
        "were_randomised",
        r"(?:were|was|being) (?:randomi[sz]ed|randomly|assigned at random|allocated at random)|at random to"
        r"|randomi[sz]ed (?:to|into|in a)\b|randomi[sz]ed \d|\d+:\d+ (?:ratio|randomi)",
        ("random", " ratio"),
    ),
    ("placebo", LITERAL, ("placebo",)),
    (
        "blinded",
        LITERAL,
        ("double-blind", "double blind", "single-blind", "single blind", "triple-blind", "triple blind", "masked"),
    ),
    (
        "registration",
        r"clinicaltrials\.gov|\bnct\d{6,}|isrctn|actrn|chictr|trial registration",
        ("clinicaltrials", *(f"nct{d}" for d in range(10)), "isrctn", "actrn", "chictr", "registration"),
    ),
    ("allocated", r"\ballocated\b|\bassigned to\b", ("allocated", "assigned to")),
    (
        "trial_conduct",
        r"phase (?:i{1,3}|iv|[1-4])[ab]?\b|open[- ]label|cross-?over|intention[- ]to[- ]treat|per[- ]protocol"
        r"|consort|allocation concealment",
        ("phase", "open", "cross", "intention", "protocol", "consort", "allocation"),
    ),
    (
        "outcomes",
        r"primary (?:end ?point|outcome|efficacy)|secondary (?:end ?point|outcome)s?\b",
        ("primary", "secondary"),
    ),
    ("enrolled", WORDS, ("enrolled", "recruited", "participants")),
    ("systematic_review", r"systematic(?:ally)?\s*review", ("systematic",)),
    ("meta_analysis", r"meta-?\s*analy[sz]", ("meta",)),
    (
        "databases",
        LITERAL,
        ("pubmed", "medline", "embase", "cochrane", "web of science", "scopus", "cinahl", "psycinfo"),
    ),
    (
        "searched",
        r"\bsearched\b|search of|literature search|search strategy",
        ("searched", "search of", "literature search", "search strategy"),
    ),
    ("prisma", r"prisma|prospero|crd ?42\d", ("prisma", "prospero", "crd")),
    (
        "pooled",
        r"\bpooled\b|random[- ]effects?|fixed[- ]effects?|heterogeneity|forest plot",
        ("pooled", "random effect", "random-effect", "fixed effect", "fixed-effect", "heterogeneity", "forest plot"),
    ),
    (
        "pooled_measure",
        r"pooled (?:odds|risk|hazard|relative|mean|standardi[sz]ed|prevalence|estimate|analysis|effect"
        r"|sensitivity|specificity)|\b(?:smd|wmd|i2|i\(2\))\b|i² ?=|grade approach|risk of bias",
        ("pooled", "smd", "wmd", "i2", "i(2)", "i²", "grade approach", "risk of bias"),
    ),
    (
        "included_studies",
        r"studies (?:were )?included|included studies|eligible studies|\d+ (?:studies|trials|articles)",
        ("studies", "trials", "articles"),
    ),
    (
        "n_included",
        r"\d+ (?:randomi[sz]ed )?(?:controlled )?(?:trials|rcts|studies)(?: were| met| with)? "
        r"(?:included|identified|eligible|involving)"
        r"|(?:included|identified|total of) \d+ (?:randomi[sz]ed |eligible )?(?:studies|trials|rcts|articles)",
        ("trials", "rcts", "studies", "articles"),
    ),
    ("protocol", r"\bprotocol\b|\bwill be\b|\bwe will\b", ("protocol", "will be", "we will")),
    (
        "secondary",
        r"post[- ]hoc|secondary analys|ancillary|sub-?study|extension study",
        ("post hoc", "post-hoc", "secondary analys", "ancillary", "substudy", "sub-study", "extension study"),
    ),
    (
        "observational",
        LITERAL,
        ("retrospective", "cohort", "cross-sectional", "case-control", "case control", "case report", "registry"),
    ),
    # Veterinary trials are graded preclinical, not RCT.
    (
        "animals",
        WORDS,
        (
            "dog",
            "dogs",
            "cat",
            "cats",
            "canine",
            "feline",
            "horse",
            "horses",
            "equine",
            "cattle",
            "cow",
            "cows",
            "calves",
            "pig",
            "pigs",
            "piglets",
            "swine",
            "sheep",
            "goat",
            "goats",
            "broiler",
            "broilers",
            "chicken",
            "chickens",
            "hens",
            "poultry",
            "mice",
            "rat",
            "rats",
            "zebrafish",
            "veterinary",
        ),
    ),
    (
        "narrative_review",
        LITERAL,
        ("this review", "we review", "narrative review", "scoping review", "overview of"),
    ),
    # Cues of the other rungs (cohort, case-control, cross-sectional, case report, trial without
    # randomisation, laboratory work, opinion, guideline).
    (
        "cohort_design",
        LITERAL,
        ("cohort", "prospective", "followed up for", "followed for", "follow-up of", "longitudinal", "person-years"),
    ),
    ("hazard_ratio", LITERAL, ("hazard ratio",)),
    ("records_based", LITERAL, ("retrospective", "medical records", "chart review", "registry", "database")),
    ("case_control", LITERAL, ("case-control", "case control", "matched control", "controls were matched")),
    ("odds_ratio", LITERAL, ("odds ratio",)),
    ("cross_sectional", LITERAL, ("cross-sectional", "cross sectional", "survey", "questionnaire", "prevalence")),
    (
        "case_report",
        LITERAL,
        ("case report", "we report a", "we present a", "we describe a", "year-old", "case presentation", "rare case"),
    ),
    (
        "single_arm",
        LITERAL,
        (
            "single-arm",
            "single arm",
            "nonrandomi",
            "non-randomi",
            "pilot study",
            "feasibility",
            "dose-escalation",
            "dose escalation",
            "first-in-human",
            "pre-post",
            "before and after",
        ),
    ),
    (
        "laboratory",
        LITERAL,
        ("in vitro", "cell line", "cells", "cultured", "knockdown", "western blot", "mouse model", "murine", "in vivo"),
    ),
    (
        "opinion",
        LITERAL,
        (
            "we argue",
            "i argue",
            "commentary",
            "editorial",
            "this letter",
            "in this issue",
            "perspective",
            "viewpoint",
            "we discuss",
        ),
    ),
    ("guideline", LITERAL, ("guideline", "recommendation", "consensus", "position statement", "task force")),
    ("t:randomised", r"randomi[sz]ed|randomi[sz]ation", ()),
    ("t:trial", r"\btrial\b", ()),
    ("t:systematic_review", r"systematic\s*review", ()),
    ("t:meta_analysis", r"meta-?\s*analy[sz]", ()),
    ("t:review", r"\breview\b", ()),
    ("t:protocol", r"\bprotocol\b", ()),
    ("t:case", r"case report|a case of|: a case|case series|\bcases?\b", ()),
    ("t:cohort", r"cohort|prospective|longitudinal|retrospective", ()),
    ("t:case_control", r"case-control|case control", ()),
    ("t:cross_sectional", r"cross-sectional|survey|prevalence", ()),
    ("t:guideline", r"guideline|consensus|recommendation|position statement", ()),
    ("t:laboratory", r"\b(?:mice|mouse|rats?|murine|dogs?|pigs?|porcine|bovine|zebrafish|in vitro|cells?)\b", ()),
    ("t:opinion", r"editorial|comment|letter|reply|response to|perspective|viewpoint", ()),
)
_TEXT_CUES = tuple(
    (i, re.compile(p), gates)
    for i, (n, p, gates) in enumerate(CUES)
    if p not in (LITERAL, WORDS) and not n.startswith("t:")
)
_LITERAL_CUES = tuple((i, gates) for i, (_, p, gates) in enumerate(CUES) if p == LITERAL)
_WORD_CUES = tuple((i, frozenset(gates)) for i, (_, p, gates) in enumerate(CUES) if p == WORDS)
_TITLE_CUES = tuple((i, re.compile(p)) for i, (n, p, _) in enumerate(CUES) if n.startswith("t:"))
CUE_NAMES = (*(name for name, _, _ in CUES), "no_abstract")

# Inputs that are not a study report, or that the classifier cannot read: they get UNKNOWN with
# the reason instead of a prediction.
_NOTICE_TITLE = re.compile(
    r"^\W*(?:erratum|errata|corrigendum|corrigenda|retraction|withdrawn|expression of concern"
    r"|notice of retraction|publisher'?s? note)\b|^\W*(?:correction|retracted)\s*(?::|to\b|notice)"
)
_ENGLISH = frozenset(
    "the of and in to a with for was were is are on by we that this from at as be or an our these than".split()  # noqa: SIM905
)
REASON_NO_TEXT = "no title or abstract to read"
REASON_NOTICE = "a notice (erratum, correction, retraction or concern), not a report of a study"
REASON_NOT_ENGLISH = "the title and abstract are not in English, and the classifier reads English only"


@dataclass(frozen=True)
class DesignInput:
    """What the classifier reads of a record: title, abstract, journal and the abstract's section labels."""

    title: str
    abstract: str = ""
    journal: str = ""
    section_labels: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return model_text(self.title, self.abstract)

    @property
    def truncated(self) -> bool:
        return len(self.abstract) > MAX_ABSTRACT_CHARS


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """Return the logistic function of linear decision scores: probabilities."""
    return 1.0 / (1.0 + np.exp(-scores))


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Return row-wise softmax(scores / temperature): one distribution over the classes per row."""
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exps = np.exp(scaled)
    return exps / exps.sum(axis=1, keepdims=True)


def model_text(title: str, abstract: str) -> str:
    """Return the classifier's text input: title and (the start of) the abstract, lower-cased."""
    return f"{title}\n{abstract[:MAX_ABSTRACT_CHARS]}".lower()


def unreadable_reason(item: DesignInput, tokens: Sequence[str] | None = None) -> str:
    """Return why the classifier must not predict this input ("" when it may).

    No text at all; a notice (erratum, retraction...) by its title; text that is not English
    (fewer than 5 % common English words among the first 8 or more; ``tokens``: the words of
    the model text, when the caller has them).
    """
    if not (item.title.strip() or item.abstract.strip()):
        return REASON_NO_TEXT
    if _NOTICE_TITLE.match(item.title.strip().lower()):
        return REASON_NOTICE
    words = list(tokens[:600]) if tokens is not None else _WORDS.findall(item.text[:4000])
    if len(words) >= 8 and sum(map(_ENGLISH.__contains__, words)) < 0.05 * len(words):
        return REASON_NOT_ENGLISH
    return ""


def cue_features(title: str, abstract: str, tokens: Sequence[str] | None = None) -> list[float]:
    """Return log(1 + count) of each design cue (``CUE_NAMES`` order), the last 1.0 when there is no abstract.

    ``tokens`` are the words of the model text when the caller has them already.
    """
    text = model_text(title, abstract)
    lowered_title = title.lower()
    values = [0.0] * len(CUE_NAMES)
    for i, literals in _LITERAL_CUES:
        count = sum(text.count(literal) for literal in literals)
        if count:
            values[i] = math.log1p(count)
    if _WORD_CUES:
        words = _WORDS.findall(text) if tokens is None else tokens
        for i, vocabulary in _WORD_CUES:
            count = sum(map(vocabulary.__contains__, words))
            if count:
                values[i] = math.log1p(count)
    for i, pattern, gates in _TEXT_CUES:
        if any(gate in text for gate in gates):
            count = len(pattern.findall(text))
            if count:
                values[i] = math.log1p(count)
    for i, pattern in _TITLE_CUES:
        count = len(pattern.findall(lowered_title))
        if count:
            values[i] = math.log1p(count)
    values[-1] = 0.0 if abstract.strip() else 1.0
    return values


def side_tokens(item: DesignInput) -> list[str]:
    """Return the journal and abstract-structure tokens of an input (the "side" features)."""
    tokens = []
    journal = re.sub(r"\W+", " ", item.journal.lower()).strip()
    if journal:
        tokens.append(f"journal:{journal}")
    labels = [re.sub(r"\W+", " ", label.lower()).strip() for label in item.section_labels if label.strip()]
    tokens += sorted({f"section:{label}" for label in labels})
    tokens.append(f"sections:{min(len(labels), 6)}")
    return tokens


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict for one input.

    ``level`` is the most likely rung, or UNKNOWN when its probability is below the threshold
    or the input cannot be read (``reason`` says why); ``probability`` is the most likely rung's
    probability (0 when unreadable); ``probabilities`` has every rung (empty when unreadable);
    ``cues`` name the features that pushed most towards the most likely rung.
    """

    level: EvidenceLevel
    probability: float
    probabilities: dict[str, float]
    best_level: EvidenceLevel = EvidenceLevel.UNKNOWN
    reason: str = ""
    cues: tuple[str, ...] = ()
    truncated: bool = False
    title_only: bool = False

    @property
    def strength(self) -> float:
        """Return the expected strength over the rung probabilities (0 when unreadable)."""
        return expected_strength(self.probabilities)


@dataclass
class _Tfidf:
    """A fitted TF-IDF (sublinear tf, smooth idf, l2) over word n-grams, transformed without sklearn.

    The transform maps tokens to ids once and finds bigram features by an integer key, which is
    several times faster than building every bigram string, and counts exactly what sklearn's
    CountVectorizer counts for the same vocabulary.
    """

    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]
    _index: tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def _build_index(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
        if self._index is None:
            token_ids: dict[str, int] = {}
            for term in self.vocabulary:
                for token in term.split(" "):
                    token_ids.setdefault(token, len(token_ids))
            unigram = np.full(len(token_ids) + 1, -1, dtype=np.int64)  # last slot: unknown token
            keys, features = [], []
            n = len(token_ids) + 1
            for term, feature in self.vocabulary.items():
                parts = term.split(" ")
                if len(parts) == 1:
                    unigram[token_ids[parts[0]]] = feature
                else:
                    keys.append(token_ids[parts[0]] * n + token_ids[parts[1]])
                    features.append(feature)
            order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
            self._index = (
                token_ids,
                unigram,
                np.array(keys, dtype=np.int64)[order],
                np.array(features, dtype=np.int64)[order],
            )
        return self._index

    def counts(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> sparse.csr_matrix:
        """Return raw n-gram counts of the vocabulary's terms (rows: texts; ``tokens``: their words, if known)."""
        token_ids, unigram, bigram_keys, bigram_features = self._build_index()
        unknown = len(token_ids)
        n = unknown + 1
        ids: list[int] = []
        lengths = []
        get = token_ids.get
        for k, text in enumerate(texts):
            words = _WORDS.findall(text) if tokens is None else tokens[k]
            found = [get(token, unknown) for token in words]
            ids.extend(found)
            lengths.append(len(found))
        token_array: np.ndarray = np.array(ids, dtype=np.int64)
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        rows = [doc, np.zeros(0, dtype=np.int64)]
        cols = [unigram[token_array], np.zeros(0, dtype=np.int64)]
        if self.ngram_range[1] >= 2 and len(token_array) > 1 and len(bigram_keys):
            same_doc = doc[:-1] == doc[1:]
            known = (token_array[:-1] != unknown) & (token_array[1:] != unknown) & same_doc
            keys = token_array[:-1][known] * n + token_array[1:][known]
            position = np.searchsorted(bigram_keys, keys)
            position[position >= len(bigram_keys)] = 0
            hit = bigram_keys[position] == keys if len(keys) else np.zeros(0, dtype=bool)
            rows[1] = doc[:-1][known][hit]
            cols[1] = bigram_features[position[hit]]
        if self.ngram_range[0] > 1:
            rows[0], cols[0] = rows[0][:0], cols[0][:0]
        row = np.concatenate(rows)
        col = np.concatenate(cols)
        keep = col >= 0
        matrix = sparse.coo_matrix(
            (np.ones(int(keep.sum())), (row[keep], col[keep])), shape=(len(texts), len(self.vocabulary))
        ).tocsr()
        matrix.sum_duplicates()
        return matrix

    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> sparse.csr_matrix:
        counts = self.counts(texts, tokens)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        weighted = counts.multiply(self.idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ weighted)


@dataclass
class DesignClassifier:
    """A trained model: vectorisers, one weight vector per rung, a temperature and the abstention threshold."""

    text_tfidf: _Tfidf
    title_tfidf: _Tfidf
    side_vocabulary: dict[str, int]
    classes: tuple[str, ...] = ()
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # classes x features
    intercepts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temperature: float = 1.0
    threshold: float = 0.5
    cue_scale: float = 1.0
    side_scale: float = 1.0
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    _names: list[str] | None = field(default=None, repr=False)

    def features(
        self, items: Sequence[DesignInput], tokens: Sequence[Sequence[str]] | None = None
    ) -> sparse.csr_matrix:
        """Return the feature matrix: text TF-IDF, title TF-IDF, cue counts, journal and structure.

        ``tokens`` are the words of each input's model text, when the caller has them.
        """
        texts = [item.text for item in items]
        if tokens is None:
            tokens = [_WORDS.findall(text) for text in texts]
        cues = np.array(
            [cue_features(i.title, i.abstract, words) for i, words in zip(items, tokens, strict=True)], dtype=np.float64
        )
        side_rows, side_cols = [], []
        for row, item in enumerate(items):
            for token in side_tokens(item):
                column = self.side_vocabulary.get(token)
                if column is not None:
                    side_rows.append(row)
                    side_cols.append(column)
        side = sparse.csr_matrix(
            (np.full(len(side_rows), self.side_scale), (side_rows, side_cols)),
            shape=(len(items), len(self.side_vocabulary)),
        )
        return sparse.hstack(
            [
                self.text_tfidf.transform(texts, tokens),
                self.title_tfidf.transform([i.title.lower() for i in items]),
                sparse.csr_matrix(cues.reshape(len(items), -1) * self.cue_scale),
                side,
            ]
        ).tocsr()

    def feature_names(self) -> list[str]:
        """Return a readable name per feature column (for the cues behind a prediction); built once."""
        if self._names is None:
            self._names = self._feature_names()
        return self._names

    def _feature_names(self) -> list[str]:
        names = [""] * (len(self.text_tfidf.vocabulary) + len(self.title_tfidf.vocabulary))
        for term, i in self.text_tfidf.vocabulary.items():
            names[i] = f'"{term}"'
        offset = len(self.text_tfidf.vocabulary)
        for term, i in self.title_tfidf.vocabulary.items():
            names[offset + i] = f'"{term}" in the title'
        names += [
            f"design cue in the title: {name[2:].replace('_', ' ')}"
            if name.startswith("t:")
            else f"design cue: {name.replace('_', ' ')}"
            for name in CUE_NAMES
        ]
        side = [""] * len(self.side_vocabulary)
        for token, i in self.side_vocabulary.items():
            kind, _, value = token.partition(":")
            side[i] = {"journal": f"journal: {value}", "section": f"abstract section: {value.upper()}"}.get(
                kind, "an unstructured abstract" if value == "0" else f"abstract sections: {value}"
            )
        return names + side

    def scores(
        self, items: Sequence[DesignInput], tokens: Sequence[Sequence[str]] | None = None
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Return the feature matrix and the linear scores (rows: inputs, columns: ``classes``)."""
        matrix = self.features(items, tokens)
        return matrix, np.asarray(matrix @ self.weights.T) + self.intercepts

    def probabilities(self, items: Sequence[DesignInput]) -> np.ndarray:
        """Return calibrated probabilities, one row per input over ``classes`` (rows sum to 1)."""
        if not items:
            return np.zeros((0, len(self.classes)))
        return softmax(self.scores(items)[1], self.temperature)

    def predict(
        self, items: Sequence[DesignInput], *, threshold: float | None = None, explain: bool = False
    ) -> list[Prediction]:
        """Return one Prediction per input: the most likely rung, UNKNOWN below ``threshold``.

        ``threshold`` defaults to the model's (chosen on held-back data at training). Inputs
        ``unreadable_reason`` refuses get UNKNOWN with the reason. ``explain`` adds the top cues.
        """
        cut = self.threshold if threshold is None else threshold
        tokens = [_WORDS.findall(item.text) for item in items]
        reasons = [unreadable_reason(item, words) for item, words in zip(items, tokens, strict=True)]
        readable = [i for i, reason in enumerate(reasons) if not reason]
        out: list[Prediction] = [
            Prediction(level=EvidenceLevel.UNKNOWN, probability=0.0, probabilities={}, reason=reason)
            for reason in reasons
        ]
        if not readable:
            return out
        matrix, raw = self.scores([items[i] for i in readable], [tokens[i] for i in readable])
        probs = softmax(raw, self.temperature)
        names = self.feature_names() if explain else []
        for row, index in enumerate(readable):
            best = int(np.argmax(probs[row]))
            best_level = EvidenceLevel(self.classes[best])
            probability = float(probs[row, best])
            cues = self._top_cues(matrix, row, best, names) if explain else ()
            out[index] = Prediction(
                level=best_level if probability >= cut else EvidenceLevel.UNKNOWN,
                probability=probability,
                probabilities={name: float(probs[row, k]) for k, name in enumerate(self.classes)},
                best_level=best_level,
                cues=cues,
                truncated=items[index].truncated,
                title_only=not items[index].abstract.strip(),
            )
        return out

    def _top_cues(self, matrix: sparse.csr_matrix, row: int, klass: int, names: Sequence[str]) -> tuple[str, ...]:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        columns = matrix.indices[start:end]
        contributions = matrix.data[start:end] * self.weights[klass, columns]
        order = np.lexsort((columns, -contributions))
        return tuple(names[columns[i]] for i in order[:TOP_CUES] if contributions[i] > 0)

    # --- the artifact -----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Return the artifact: canonical JSON, the same bytes for the same model."""
        payload = {
            "format": FORMAT,
            "classes": list(self.classes),
            "cues": list(CUE_NAMES),
            "cue_scale": self.cue_scale,
            "side_scale": self.side_scale,
            "text_tfidf": _tfidf_json(self.text_tfidf),
            "title_tfidf": _tfidf_json(self.title_tfidf),
            "side_terms": sorted(self.side_vocabulary, key=self.side_vocabulary.__getitem__),
            "weights": {name: _array_json(self.weights[k]) for k, name in enumerate(self.classes)},
            "intercepts": {name: float(self.intercepts[k]) for k, name in enumerate(self.classes)},
            "temperature": float(self.temperature),
            "threshold": float(self.threshold),
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
            if payload["cues"] != list(CUE_NAMES):
                raise ArtifactError("the artifact was trained with other design cues: retrain it")
            classes = tuple(payload["classes"])
            for name in classes:
                EvidenceLevel(name)
            return cls(
                text_tfidf=_tfidf_from(payload["text_tfidf"]),
                title_tfidf=_tfidf_from(payload["title_tfidf"]),
                side_vocabulary={term: i for i, term in enumerate(payload["side_terms"])},
                classes=classes,
                weights=np.vstack([_array_from(payload["weights"][name]) for name in classes]),
                intercepts=np.array([float(payload["intercepts"][name]) for name in classes]),
                temperature=float(payload["temperature"]),
                threshold=float(payload["threshold"]),
                cue_scale=float(payload["cue_scale"]),
                side_scale=float(payload["side_scale"]),
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


def level_label(level: str) -> str:
    """Return the short name of a rung (for explanations)."""
    return level_info(level).short_name


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


def fit_side_vocabulary(items: Iterable[DesignInput], *, min_df: int = 3) -> dict[str, int]:
    """Return the journal and structure tokens seen in at least ``min_df`` inputs, numbered alphabetically."""
    counts: dict[str, int] = {}
    for item in items:
        for token in set(side_tokens(item)):
            counts[token] = counts.get(token, 0) + 1
    return {token: i for i, token in enumerate(sorted(t for t, n in counts.items() if n >= min_df))}
