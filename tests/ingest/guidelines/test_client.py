"""The network client against a local HTTP server replaying recorded OAI-PMH responses."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from ingest.guidelines.client import FetchError, TransientFetchError, feed_fetch, fetch_bytes, oai_fetch_page
from ingest.guidelines.oai import OaiError

pytestmark = pytest.mark.shared_data

PAGES = "caseyamcl__phpoaipmh__tests--SampleXML--GoodResponseFourPage_{}.xml"
ERROR = '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><request>x</request><error code="{}">m</error></OAI-PMH>'


class Replay(BaseHTTPRequestHandler):
    folder = None
    failures: dict[str, int] = {}
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="text/xml"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        Replay.requests.append({"path": url.path, **query})
        if url.path == "/flaky":
            left = Replay.failures.get("flaky", 0)
            if left:
                Replay.failures["flaky"] = left - 1
                return self._send(503, b"busy", "text/plain")
            return self._send(200, (self.folder / PAGES.format(1)).read_bytes())
        if url.path == "/drop":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"<OAI-PMH>")
            self.wfile.flush()
            self.connection.close()
            return None
        if url.path == "/gone":
            return self._send(410, b"gone", "text/plain")
        if url.path == "/status":
            return self._send(int(query["code"]), b"status", "text/plain")
        if url.path == "/html":
            return self._send(200, b"<!DOCTYPE html><html><body>hi</body></html>", "text/html")
        if url.path == "/big":
            return self._send(200, b"x" * 5000, "text/plain")
        if url.path == "/feed":
            body = b'<rss version="2.0"><channel><item><title>T</title><link>https://e/1</link></item></channel></rss>'
            return self._send(200, body, "application/rss+xml")
        token = query.get("resumptionToken")
        if url.path == "/oai":
            if token is None:
                return self._send(200, (self.folder / PAGES.format(1)).read_bytes())
            pages = {"0/200/733/nsdl_dc/null/2012-07-26/null": 2, "200/400/733/nsdl_dc/null/2012-07-26/null": 3}
            pages["400/600/733/nsdl_dc/null/2012-07-26/null"] = 4
            if token in pages:
                return self._send(200, (self.folder / PAGES.format(pages[token])).read_bytes())
            return self._send(200, ERROR.format("badResumptionToken").encode())
        if url.path == "/empty":
            return self._send(200, ERROR.format("noRecordsMatch").encode())
        if url.path == "/malformed":
            return self._send(200, b"<OAI-PMH><ListRecords>")
        return self._send(404, b"no", "text/plain")


@pytest.fixture()
def server(shared_data):
    Replay.folder = shared_data / "guidelines" / "oai"
    Replay.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_four_pages_followed_by_resumption_token(server):
    page = oai_fetch_page(server + "/oai", metadata_prefix="nsdl_dc", from_date="2012-07-26", verb="ListIdentifiers")
    seen = list(page.identifiers)
    tokens = []
    while page.resumption_token:
        tokens.append(page.resumption_token)
        page = oai_fetch_page(server + "/oai", resumption_token=page.resumption_token, verb="ListIdentifiers")
        seen.extend(page.identifiers)
    assert len(tokens) == 3 and len(seen) == 733 == len(set(seen))
    assert Replay.requests[0]["from"] == "2012-07-26" and Replay.requests[0]["metadataPrefix"] == "nsdl_dc"
    assert set(Replay.requests[1]) == {"path", "verb", "resumptionToken"}  # nothing else with a token


def test_oai_error_responses(server):
    with pytest.raises(OaiError) as bad:
        oai_fetch_page(server + "/oai", resumption_token="expired")
    assert bad.value.code == "badResumptionToken" and not bad.value.empty
    with pytest.raises(OaiError) as empty:
        oai_fetch_page(server + "/empty", from_date="2030-01-01", set_spec="guidelines")
    assert empty.value.empty
    assert Replay.requests[-1]["set"] == "guidelines"


def test_503_is_transient_then_success(server):
    Replay.failures["flaky"] = 1
    with pytest.raises(TransientFetchError, match="503"):
        oai_fetch_page(server + "/flaky")
    assert len(oai_fetch_page(server + "/flaky").identifiers) == 200


def test_dropped_connection_is_transient(server):
    with pytest.raises(TransientFetchError):
        oai_fetch_page(server + "/drop")
    with pytest.raises(TransientFetchError):
        fetch_bytes(server + "/drop", max_bytes=10**6)


def test_http_status_classification(server):
    with pytest.raises(TransientFetchError):
        fetch_bytes(server + "/status?code=429", max_bytes=100)
    with pytest.raises(TransientFetchError):
        fetch_bytes(server + "/status?code=500", max_bytes=100)
    with pytest.raises(FetchError) as not_found:
        fetch_bytes(server + "/status?code=404", max_bytes=100)
    assert not isinstance(not_found.value, TransientFetchError)
    with pytest.raises(FetchError) as gone:
        oai_fetch_page(server + "/gone")
    assert not isinstance(gone.value, TransientFetchError)


def test_not_xml_and_too_big_are_permanent(server):
    with pytest.raises(FetchError, match="malformed OAI-PMH XML"):
        oai_fetch_page(server + "/malformed")
    with pytest.raises(FetchError, match="over the limit"):
        fetch_bytes(server + "/big", max_bytes=1000)
    with pytest.raises(FetchError, match="HTML page"):
        feed_fetch(server + "/html")
    assert [i.link for i in feed_fetch(server + "/feed")] == ["https://e/1"]


def test_timeout_is_transient():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    try:
        with pytest.raises(TransientFetchError):
            fetch_bytes(f"http://127.0.0.1:{listener.getsockname()[1]}/", max_bytes=10, timeout=0.5)
    finally:
        listener.close()
