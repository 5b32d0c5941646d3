"""`load_guidelines`: real guideline files in every shared format, idempotent, bad files reported."""

from __future__ import annotations

import gzip
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guidelines.loading import load_guideline_paths
from guidelines.models import Guideline
from records.models import EvidenceRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def guideline_data(shared_data: Path) -> Path:
    path = shared_data / "guidelines"
    if not path.is_dir():
        pytest.skip("../shared/data/guidelines is not here")
    return path


def test_every_shared_guideline_file_loads_and_a_second_load_changes_nothing(guideline_data: Path) -> None:
    first = load_guideline_paths(paths=[guideline_data])
    # The shared set holds two files that are no guideline: an OAI-PMH error response (badVerb)
    # and a bare Dublin Core document outside an OAI-PMH envelope. Both are reported, not fatal.
    assert sorted(Path(p.location).name for p in first.problems) == [
        "caseyamcl__phpoaipmh__tests--SampleXML--BadResponseNonExistentVerb.xml",
        "infrae__pyoai__src--oaipmh--tests--fake1--00006.xml",
    ]
    assert first.files >= 150
    assert first.new >= 100
    recommendations = EvidenceRecord.objects.filter(kind="recommendation", deleted_at__isnull=True)
    assert recommendations.count() >= 1000
    issuers = set(Guideline.objects.values_list("issuer", flat=True))
    assert {"U.S. Preventive Services Task Force"} <= issuers
    assert any("Veterans Affairs" in issuer for issuer in issuers)
    stored = EvidenceRecord.objects.count()
    again = load_guideline_paths(paths=[guideline_data])
    assert (again.new, again.updated, again.new_versions, again.deleted) == (0, 0, 0, 0)
    assert again.changed_record_ids == []
    assert EvidenceRecord.objects.count() == stored


def test_the_command_reports_counts_and_unreadable_files_without_stopping(tmp_path: Path, guideline_data: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.xml").write_text("<Version><Section Name='x'><Field")
    (folder / "truncated.xml.gz").write_bytes(gzip.compress(b"<?xml version='1.0'?><OAI-PMH>")[:-8])
    (folder / "ngc-9806.xml.gz").write_bytes((guideline_data / "ngc" / "ngc-9806.xml.gz").read_bytes())
    out = StringIO()
    call_command("load_guidelines", str(folder), "--no-hand-off", stdout=out)
    text = out.getvalue()
    assert "3 file(s): 1 guideline(s) read" in text
    assert "problems 2" in text and "broken.xml" in text and "truncated.xml.gz" in text
    assert Guideline.objects.count() == 1


def test_the_command_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("load_guidelines", str(tmp_path / "nowhere"))
