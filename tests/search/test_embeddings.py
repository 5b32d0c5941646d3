"""The embedder's runtimes on the real bundled model: ONNX gives torch's vectors, int8 is its own
vector space, and a model ONNX cannot run falls back to torch with a logged reason."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from search.embeddings import BUNDLED_MODEL, Embedder, EmbeddingError, _bundled_model_dir, _onnx_encoder
from search.onnx_encoder import OnnxUnsupported, _pooling_mode

TEXTS = [
    "Aspirin for secondary prevention after ischaemic stroke: a randomised controlled trial.",
    "Metformin versus insulin in gestational diabetes. " * 40,  # longer than the token limit
    "β-blockers 🫀 in heart failure",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="module")
def torch_embedder(cache_dir: Path) -> Embedder:
    return Embedder(BUNDLED_MODEL, batch_size=2, max_tokens=256, cache_dir=cache_dir, runtime="torch")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_onnx_runtime_gives_torchs_vectors(cache_dir: Path, torch_embedder: Embedder) -> None:
    onnx = Embedder(BUNDLED_MODEL, batch_size=2, max_tokens=256, cache_dir=cache_dir, runtime="onnx")
    assert onnx.runtime == "onnx"
    assert onnx.model_name == torch_embedder.model_name == BUNDLED_MODEL
    assert (cache_dir / "onnx").is_dir()
    documents = onnx._encode(TEXTS)
    assert documents.shape == (3, 384) and documents.dtype == np.float32
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    assert cosines(documents, torch_embedder._encode(TEXTS)).min() > 0.9999
    query = onnx.embed_query("statins in the elderly")
    assert float(query @ torch_embedder.embed_query("statins in the elderly")) > 0.9999


def test_int8_runtime_is_a_vector_space_of_its_own(cache_dir: Path, torch_embedder: Embedder) -> None:
    int8 = Embedder(BUNDLED_MODEL, batch_size=2, max_tokens=256, cache_dir=cache_dir, runtime="onnx-int8")
    assert int8.runtime == "onnx-int8"
    assert int8.model_name == f"{BUNDLED_MODEL}#int8"
    assert int8._cache.path != torch_embedder._cache.path
    similarity = cosines(int8._encode(TEXTS), torch_embedder._encode(TEXTS))
    assert 0.95 < similarity.min() < 0.99999


def test_unknown_runtime_is_a_clear_error(cache_dir: Path) -> None:
    with pytest.raises(EmbeddingError, match="unknown embedding runtime 'tensorrt'"):
        Embedder(BUNDLED_MODEL, batch_size=2, max_tokens=256, cache_dir=cache_dir, runtime="tensorrt")


def test_model_onnx_cannot_run_falls_back_to_torch_and_says_why(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sentence_transformers import SentenceTransformer, models

    bundled = _bundled_model_dir()
    assert bundled is not None
    transformer = models.Transformer(str(bundled))
    max_pooled = SentenceTransformer(modules=[transformer, models.Pooling(384, pooling_mode="max")], device="cpu")
    with pytest.raises(OnnxUnsupported, match="pooling mode 'max'"):
        _pooling_mode(max_pooled)
    with caplog.at_level(logging.WARNING, logger="search.embeddings"):
        assert _onnx_encoder(max_pooled, "onnx", cache_dir, "max-pooled", 256) is None
    assert "using torch" in caplog.text and "pooling mode 'max'" in caplog.text
