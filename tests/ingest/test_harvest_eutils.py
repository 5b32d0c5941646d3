"""The E-utilities client against the local server: paging, the 10,000 cap, error sorting."""

from __future__ import annotations

from datetime import date

import pytest

from ingest import eutils
from tests.ingest.eutils_server import replicate
from tests.ingest.harvest_helpers import eutils_server, served_articles

__all__ = ["eutils_server"]

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data]
WHOLE = {"datetype": "edat", "start": date(1900, 1, 1), "end": date(2030, 12, 31)}


@pytest.fixture
def served(eutils_server, shared_data, settings):
    articles = served_articles(shared_data, ("mattgrayson__pubmed__example-data--efetch.xml.gz",))
    eutils_server.add(articles)
    settings.EUTILS_BASE_URL = eutils_server.base_url
    settings.EUTILS_RATE_LIMIT = 100.0
    settings.REDIS_URL = None
    settings.CELERY_BROKER_URL = "sqla+sqlite:///unused.sqlite3"
    settings.NCBI_EMAIL = "client-tests@example.org"
    return articles


def test_esearch_pages_through_the_history_of_one_search(served, eutils_server) -> None:
    first = eutils.esearch(term="all[sb]", retmax=20, **WHOLE)
    second = eutils.esearch(term="all[sb]", retstart=20, retmax=40, history=first, **WHOLE)
    assert first.count == len(served) == 50
    assert first.webenv.startswith("MCID_") and first.query_key == "1"
    assert len(set(first.ids) | set(second.ids)) == 50
    assert all(request.params["WebEnv"] == first.webenv for request in eutils_server.requests[1:])


def test_esearch_filters_by_date_window(served) -> None:
    result = eutils.esearch(term="all[sb]", datetype="mdat", start=date(2009, 11, 18), end=date(2009, 11, 18))
    assert 0 < result.count < len(served)


def test_efetch_returns_the_requested_records_as_one_complete_document(served) -> None:
    pmids = [article.pmid for article in served[:7]]
    body = eutils.efetch_pubmed(pmids)
    assert body.rstrip().endswith(b"</PubmedArticleSet>")
    assert all(f">{pmid}</PMID>".encode() in body for pmid in pmids)


def test_paging_past_ten_thousand_is_refused_before_asking(served) -> None:
    with pytest.raises(eutils.EutilsError, match="10000"):
        eutils.esearch(term="all[sb]", retstart=9_990, retmax=20, **WHOLE)


def test_server_reports_the_ten_thousand_cap_as_an_error(eutils_server, served) -> None:
    eutils_server.add(replicate(served, 10_020, first_pmid=80_000_000, start=date(2021, 1, 1), days=10))
    search = eutils.esearch(term="all[sb]", retmax=0, **WHOLE)
    assert search.count == 10_070
    assert len(eutils.esearch(term="all[sb]", retstart=9_000, retmax=1_000, history=search, **WHOLE).ids) == 1_000
    with pytest.raises(eutils.EutilsError):
        eutils._parse_search(
            b'<?xml version="1.0"?><eSearchResult><ERROR>retstart cannot be larger than 9998</ERROR></eSearchResult>'
        )


@pytest.mark.parametrize("kind", ["429", "500"])
def test_rate_limit_and_server_errors_are_transient(served, eutils_server, kind) -> None:
    eutils_server.inject(kind, 1, utility="efetch")
    with pytest.raises(eutils.TransientEutilsError, match=f"HTTP {kind}"):
        eutils.efetch_pubmed([served[0].pmid])
    assert served[0].pmid.encode() in eutils.efetch_pubmed([served[0].pmid])


def test_truncated_body_is_transient(served, eutils_server) -> None:
    eutils_server.inject("truncate", 1, utility="efetch")
    with pytest.raises(eutils.TransientEutilsError, match="incomplete"):
        eutils.efetch_pubmed([article.pmid for article in served[:10]])


def test_bad_request_is_not_retried(served, settings) -> None:
    settings.EUTILS_BASE_URL = settings.EUTILS_BASE_URL.replace("/entrez/eutils/", "/nowhere/")
    with pytest.raises(eutils.EutilsError) as raised:
        eutils.esearch(term="all[sb]", **WHOLE)
    assert not isinstance(raised.value, eutils.TransientEutilsError)


def test_unreachable_server_is_transient(served, settings) -> None:
    settings.EUTILS_BASE_URL = "http://127.0.0.1:9/entrez/eutils/"
    with pytest.raises(eutils.TransientEutilsError):
        eutils.esearch(term="all[sb]", **WHOLE)
