"""Every reader either returns values or raises its documented error, quickly, on any input."""

from __future__ import annotations

import contextlib
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.guidelines.documents import extract_text
from ingest.guidelines.feeds import parse_feed
from ingest.guidelines.fhir import parse_fhir_resources
from ingest.guidelines.files import detect_format
from ingest.guidelines.ngc import parse_ngc
from ingest.guidelines.types import GuidelineParseError
from ingest.guidelines.uspstf import parse_uspstf

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)


def _bounded(call):
    start = time.perf_counter()
    with contextlib.suppress(GuidelineParseError):
        call()
    assert time.perf_counter() - start < 3.0


@FAST
@given(st.binary(max_size=3000))
def test_byte_readers_never_crash(data):
    _bounded(lambda: parse_ngc(data, source_id="x"))
    _bounded(lambda: parse_uspstf(data))
    _bounded(lambda: parse_feed(data, feed_url="u"))
    _bounded(lambda: extract_text(data, filename="x.html", max_bytes=10_000))
    _bounded(lambda: extract_text(data, filename="x.pdf", max_bytes=10_000))
    _bounded(lambda: extract_text(data, filename="x.docx", max_bytes=10_000))
    assert detect_format("x", data) in {
        "uspstf", "ngc", "fhir", "oai", "feed", "nice_xml", "nice_csv", "pdf", "docx", "html", "text",
    }  # fmt: skip


@FAST
@given(st.lists(json_values, max_size=5))
def test_fhir_reader_never_crashes_on_any_json(values):
    start = time.perf_counter()
    parse_fhir_resources(values)
    assert time.perf_counter() - start < 3.0


@FAST
@given(st.lists(json_values, max_size=5))
def test_uspstf_reader_on_any_json(values):
    _bounded(lambda: parse_uspstf(json.dumps({"specificRecommendations": values}).encode()))


@FAST
@given(st.text(max_size=2000))
def test_ngc_reader_on_any_major_recommendations_field(markup):
    from xml.sax.saxutils import quoteattr

    xml = (
        '<Version><Section Name="General"><Field FieldID="161" Name="Guideline Title">'
        '<FieldValue Value="T"/></Field><Field FieldID="151" Name="Major Recommendations">'
        f"<FieldValue Value={quoteattr(markup)}/></Field></Section></Version>"
    )
    _bounded(lambda: parse_ngc(xml.encode("utf-8", "surrogatepass"), source_id="x"))
