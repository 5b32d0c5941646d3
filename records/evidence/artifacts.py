"""Where trained design classifiers live: ``EVIDENCE_DATA_DIR/models/design/<version>/``.

Each version folder holds ``model.json`` (named by its SHA-256) and ``metrics.json``; the file
``CURRENT`` names the version in use. Artifacts are trained from the records at hand and never
committed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from records.evidence.classifier import ARTIFACT_NAME, METRICS_NAME, ArtifactError, DesignClassifier, artifact_version

CURRENT_NAME = "CURRENT"
_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[str, float], DesignClassifier]] = {}


def default_models_dir() -> Path:
    """Return ``EVIDENCE_DATA_DIR/models/design``."""
    return Path(settings.EVIDENCE_DATA_DIR) / "models" / "design"


def save_artifact(*, artifact: bytes, metrics: dict[str, Any], models_dir: Path | None = None) -> Path:
    """Write a trained model and its metrics, make it current; return its folder.

    Written to a temporary name first and renamed, so a reader never sees half a file.
    """
    base = models_dir or default_models_dir()
    version = artifact_version(artifact)
    folder = base / version
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / ARTIFACT_NAME, artifact)
    _write_atomically(folder / METRICS_NAME, (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())
    _write_atomically(base / CURRENT_NAME, (version + "\n").encode())
    return folder


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def current_version(models_dir: Path | None = None) -> str | None:
    """Return the version named by ``CURRENT``, or None when no model was trained."""
    marker = (models_dir or default_models_dir()) / CURRENT_NAME
    try:
        version = marker.read_text().strip()
    except FileNotFoundError:
        return None
    return version or None


def load_current(models_dir: Path | None = None) -> DesignClassifier | None:
    """Return the current classifier (cached until ``CURRENT`` changes), or None when there is none.

    Raises ArtifactError when the artifact is damaged or its bytes do not match its version.
    """
    base = models_dir or default_models_dir()
    version = current_version(base)
    if version is None:
        return None
    path = base / version / ARTIFACT_NAME
    try:
        key = (version, path.stat().st_mtime)
    except FileNotFoundError:
        raise ArtifactError(f"{CURRENT_NAME} names {version}, but {path} is missing: retrain") from None
    with _lock:
        cached = _cache.get(base)
        if cached and cached[0] == key:
            return cached[1]
        data = path.read_bytes()
        if artifact_version(data) != version:
            raise ArtifactError(f"{path} does not match its version {version} (edited or damaged): retrain")
        classifier = DesignClassifier.from_bytes(data, version=version)
        _cache[base] = (key, classifier)
        return classifier
