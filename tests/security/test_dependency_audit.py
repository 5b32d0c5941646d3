"""The dependency audit matches advisories against the exact pinned versions and fails on one
that is not listed with a reason (scripts/audit_deps.py, run by `make test` before the suite)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO_ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", REPO_ROOT / "scripts" / "audit_deps.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_deps"] = module
    spec.loader.exec_module(module)
    return module


audit = _load()
PINNED = audit.pinned(audit.DEFAULT_REQUIREMENTS)
DJANGO = PINNED["django"]


def _advisory(folder: Path, advisory_id: str, events: list[dict[str, str]], **extra: Any) -> None:
    data = {
        "id": advisory_id,
        "aliases": [f"CVE-{advisory_id}"],
        "summary": "test advisory",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "Django"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
        **extra,
    }
    (folder / f"{advisory_id}.json").write_text(json.dumps(data))


def _next_patch(version: str) -> str:
    major, minor, patch = version.split(".")[:3]
    return f"{major}.{minor}.{int(patch) + 1}"


def test_every_requirement_is_pinned_and_read() -> None:
    assert {"django", "django-axes", "celery", "pip-audit", "pytest"} <= set(PINNED)
    assert all(version[0].isdigit() for version in PINNED.values())


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "osv"
    folder.mkdir()
    monkeypatch.setenv("AUDIT_OSV_DB", str(folder))
    monkeypatch.setattr(audit, "IGNORE_FILE", tmp_path / "audit-ignore.txt")
    (tmp_path / "audit-ignore.txt").write_text("# nothing ignored\n")
    return folder


def test_a_known_vulnerability_of_a_pinned_version_fails_the_audit(database: Path, capsys: Any) -> None:
    _advisory(database, "PYSEC-TEST-1", [{"introduced": "0"}, {"fixed": _next_patch(DJANGO)}])
    _advisory(database, "PYSEC-TEST-OLD", [{"introduced": "0"}, {"fixed": "1.0"}])  # fixed long ago
    _advisory(database, "PYSEC-TEST-GONE", [{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z")
    assert audit.main([]) == 1
    output = capsys.readouterr().out
    assert f"django=={DJANGO} PYSEC-TEST-1" in output and "NOT LISTED" in output
    assert "PYSEC-TEST-OLD" not in output and "PYSEC-TEST-GONE" not in output


def test_a_listed_vulnerability_with_a_reason_passes(database: Path, capsys: Any) -> None:
    _advisory(database, "PYSEC-TEST-1", [{"introduced": "0"}, {"fixed": _next_patch(DJANGO)}])
    audit.IGNORE_FILE.write_text("CVE-PYSEC-TEST-1  only affects the Oracle backend, which we do not use\n")
    assert audit.main([]) == 0
    assert "ignored: only affects the Oracle backend" in capsys.readouterr().out


def test_a_listed_vulnerability_without_a_reason_is_refused(database: Path) -> None:
    audit.IGNORE_FILE.write_text("PYSEC-TEST-1\n")
    assert audit.main([]) == 1


@pytest.mark.parametrize(
    ("events", "affected"),
    [
        ([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}], {"1.2", "2.1"}),
        ([{"introduced": "0"}, {"last_affected": "1.5"}], {"1.2", "1.5"}),
    ],
)
def test_osv_ranges_are_read_in_order(events: list[dict[str, str]], affected: set[str]) -> None:
    from packaging.version import Version

    entry = {"ranges": [{"type": "ECOSYSTEM", "events": events}]}
    found = {v for v in ("0.9", "1.2", "1.5", "1.7", "2.1", "2.4") if audit._affected(Version(v), entry)}
    if events[0] == {"introduced": "0"}:
        affected = affected | {"0.9"}
    assert found == affected


def test_without_any_source_the_audit_says_it_did_not_run(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("AUDIT_OSV_DB", raising=False)
    monkeypatch.setattr(audit, "audit_online", lambda requirements: None)
    monkeypatch.setenv("AUDIT_REQUIRED", "1")
    assert audit.main([]) == 2
    assert "NOT RUN" in capsys.readouterr().err
