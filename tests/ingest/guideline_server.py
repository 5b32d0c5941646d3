"""A local HTTP server for the guideline harvest tests: recorded responses and a small OAI-PMH repository.

``GuidelineServer`` serves fixed bodies by path (recorded OAI-PMH pages, a feed, documents, the
USPSTF JSON), or answers a path with a handler of the query parameters. Faults can be queued per
path: an HTTP status (``"503"``) or a dropped connection (``"drop"``); every request is logged.

``OaiRepository`` is a handler that speaks enough OAI-PMH for incremental harvests: ``ListRecords``
over ``from``/``until`` (by datestamp day) and ``set``, paged with resumption tokens, deleted
records, ``noRecordsMatch`` and ``badResumptionToken`` error responses, in ``oai_dc``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"


Handler = Callable[[dict[str, str]], Reply]


@dataclass
class Request:
    path: str
    params: dict[str, str]
    status: int


@dataclass
class GuidelineServer:
    routes: dict[str, Reply | Handler] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def add(self, path: str, reply: Reply | Handler) -> str:
        """Serve ``reply`` (or the handler's reply) at ``path``; return its URL."""
        self.routes[path] = reply
        return self.url(path)

    def inject(self, path: str, fault: str, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``path`` with ``fault`` (an HTTP status or "drop")."""
        self.faults.setdefault(path, []).extend([fault] * times)

    def requests_to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def start(self) -> GuidelineServer:
        owner = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                params = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
                queued = owner.faults.get(parsed.path)
                if queued:
                    fault = queued.pop(0)
                    if fault == "drop":
                        owner.requests.append(Request(parsed.path, params, 0))
                        self.close_connection = True
                        self.connection.shutdown(2)  # the server hangs up without an answer
                        return
                    self._send(Reply(b"busy", status=int(fault), content_type="text/plain"), params, parsed.path)
                    return
                route = owner.routes.get(parsed.path)
                if route is None:
                    reply = Reply(b"not found", status=404, content_type="text/plain")
                elif isinstance(route, Reply):
                    reply = route
                else:
                    reply = route(params)
                self._send(reply, params, parsed.path)

            def _send(self, reply: Reply, params: dict[str, str], path: str) -> None:
                owner.requests.append(Request(path, params, reply.status))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.status == 503:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- a small OAI-PMH repository -----------------------------------------------------------------

OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
    "<responseDate>2025-03-01T00:00:00Z</responseDate>\n"
)


@dataclass(frozen=True)
class OaiRecord:
    identifier: str
    day: date
    title: str = ""
    creator: str = ""
    description: str = ""
    sets: tuple[str, ...] = ()
    deleted: bool = False
    # The document's own date (dc:date), when it differs from the datestamp (the last change).
    issued: date | None = None


def oai_error(code: str, message: str, request: str = "") -> bytes:
    return (
        f'{OAI_HEAD}<request verb="ListRecords">{escape(request)}</request>\n'
        f'<error code="{code}">{escape(message)}</error>\n</OAI-PMH>\n'
    ).encode()


def _record_xml(record: OaiRecord) -> str:
    sets = "".join(f"<setSpec>{escape(spec)}</setSpec>" for spec in record.sets)
    status = ' status="deleted"' if record.deleted else ""
    header = (
        f"<header{status}><identifier>{escape(record.identifier)}</identifier>"
        f"<datestamp>{record.day.isoformat()}</datestamp>{sets}</header>"
    )
    if record.deleted:
        return f"<record>{header}</record>"
    return (
        f"<record>{header}<metadata>"
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(record.title)}</dc:title>"
        f"<dc:creator>{escape(record.creator)}</dc:creator>"
        f"<dc:date>{(record.issued or record.day).isoformat()}</dc:date>"
        f"<dc:description>{escape(record.description)}</dc:description>"
        "<dc:type>Guideline</dc:type>"
        f"<dc:identifier>{escape(record.identifier)}</dc:identifier>"
        "</oai_dc:dc></metadata></record>"
    )


@dataclass
class OaiRepository:
    """``ListRecords`` over ``records`` with ``from``/``until``/``set`` and paging by resumption token."""

    records: list[OaiRecord]
    page_size: int = 3
    # Tokens this repository handed out: token -> (the filtered records, offset).
    tokens: dict[str, tuple[list[OaiRecord], int]] = field(default_factory=dict)

    def __call__(self, params: dict[str, str]) -> Reply:
        if params.get("verb") != "ListRecords":
            return Reply(oai_error("badVerb", f"verb {params.get('verb')!r} is not served here"))
        token = params.get("resumptionToken")
        if token is not None:
            if token not in self.tokens:
                return Reply(oai_error("badResumptionToken", f"The value of the resumptionToken {token} is invalid"))
            selected, offset = self.tokens[token]
        else:
            if params.get("metadataPrefix") != "oai_dc":
                return Reply(oai_error("cannotDisseminateFormat", "only oai_dc is served"))
            start = date.fromisoformat(params["from"][:10]) if params.get("from") else date.min
            end = date.fromisoformat(params["until"][:10]) if params.get("until") else date.max
            spec = params.get("set")
            selected = [
                record
                for record in self.records
                if start <= record.day <= end and (spec is None or spec in record.sets)
            ]
            offset = 0
        if not selected:
            return Reply(
                oai_error("noRecordsMatch", "The combination of the values of the arguments results in an empty list.")
            )
        page = selected[offset : offset + self.page_size]
        following = offset + len(page)
        if following < len(selected):
            next_token = f"page-{len(self.tokens) + 1}-{following}"
            self.tokens[next_token] = (selected, following)
            resumption = (
                f'<resumptionToken completeListSize="{len(selected)}" cursor="{offset}">{next_token}</resumptionToken>'
            )
        elif offset:
            resumption = f'<resumptionToken completeListSize="{len(selected)}" cursor="{offset}"/>'
        else:
            resumption = ""
        body = (
            f'{OAI_HEAD}<request verb="ListRecords">http://localhost/oai</request>\n<ListRecords>'
            + "".join(_record_xml(record) for record in page)
            + resumption
            + "</ListRecords>\n</OAI-PMH>\n"
        )
        return Reply(body.encode())
