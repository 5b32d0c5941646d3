"""PubMed parsers: XML (efetch, baseline) and MEDLINE text, streamed with constant memory.

``iter_pubmed_file(path)`` detects the format of one file; ``iter_input_paths`` expands folders;
``parse_pubmed_xml`` and ``parse_medline_text`` parse streams (the harvester feeds efetch bodies).
"""

from __future__ import annotations

from ingest.pubmed.files import detect_format, iter_input_paths, iter_pubmed_file
from ingest.pubmed.medline import parse_medline_text
from ingest.pubmed.xml import parse_pubmed_xml
from records.types import DeletedCitation, ParsedItem, ParsedRecord, ParseProblem

__all__ = [
    "DeletedCitation",
    "ParseProblem",
    "ParsedItem",
    "ParsedRecord",
    "detect_format",
    "iter_input_paths",
    "iter_pubmed_file",
    "parse_medline_text",
    "parse_pubmed_xml",
]
