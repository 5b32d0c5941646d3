"""Vector retrieval for the embedded backend: exact cosine (numpy, float32) by default, and a
usearch HNSW index once a generation holds ``threshold`` vectors or more.

Filters are applied inside retrieval: exact search scores only rows passing the mask; the HNSW
path over-fetches, drops rows outside the mask and falls back to exact search over the masked
rows when too few survive, so a filtered page is always full.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from search.backends.embedded_store import Snapshot

_lock = threading.Lock()
_ann_cache: dict[str, tuple[int, Any]] = {}
OVERSAMPLE = 4
EXACT_BELOW = 50_000  # a mask this small is cheaper to score exactly than to over-fetch


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the ``k`` largest scores, best first (ties by index)."""
    if k >= scores.shape[0]:
        return np.lexsort((np.arange(scores.shape[0]), -scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def exact(vectors: np.ndarray, q: np.ndarray, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, cosine scores) of the ``k`` nearest masked rows (vectors are unit length)."""
    n = mask.shape[0]
    if n == 0 or not mask.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if mask.all():
        scores = vectors[:n] @ q
        best = top_k(scores, k)
        return best, scores[best]
    rows = np.nonzero(mask)[0]
    scores = vectors[rows] @ q
    best = top_k(scores, k)
    return rows[best], scores[best]


def _ann_index(path: Path, snap: Snapshot) -> Any:
    """Return the HNSW index of this snapshot's vectors, built once per version and saved."""
    from usearch.index import Index

    key = str(path)
    with _lock:
        cached = _ann_cache.get(key)
        if cached is not None and cached[0] == snap.version:
            return cached[1]
        file = path / f"ann-{snap.version}.usearch"
        index = Index(
            ndim=snap.dimension, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=128
        )
        if file.exists():
            index.load(str(file))
        else:
            assert snap.vectors is not None
            rows = np.nonzero(snap.present & snap.has_vector)[0]
            index.add(rows, np.ascontiguousarray(snap.vectors[rows]), threads=2)
            tmp = path / f"ann-{snap.version}.usearch.tmp"
            index.save(str(tmp))
            tmp.replace(file)
            for old in path.glob("ann-*.usearch"):
                if old != file:
                    old.unlink(missing_ok=True)
        _ann_cache[key] = (snap.version, index)
        return index


def search(
    path: Path, snap: Snapshot, q: np.ndarray, mask: np.ndarray, k: int, *, threshold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (rows, scores) of the ``k`` nearest vectors passing ``mask``, best first."""
    assert snap.vectors is not None
    allowed = int(mask.sum())
    if allowed == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    total = int((snap.present & snap.has_vector).sum())
    if total < threshold or allowed < EXACT_BELOW:
        return exact(snap.vectors, q, mask, k)
    index = _ann_index(path, snap)
    fetch = min(total, k * OVERSAMPLE * max(1, round(total / allowed)))
    matches = index.search(q, fetch)
    rows = np.asarray(matches.keys, dtype=np.int64)
    passing = mask[rows]
    keep = rows[passing][:k]
    if keep.shape[0] < min(k, allowed):
        return exact(snap.vectors, q, mask, k)
    return keep, (1.0 - np.asarray(matches.distances, dtype=np.float32))[passing][:k]
