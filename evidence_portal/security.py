"""The content security policy: every script and style comes from this site, none inline.

Templates load JavaScript and CSS from ``static/`` only (no ``<script>`` body, no ``style=``
attribute, no ``on...=`` handler), so the policy below forbids inline code outright; an injected
``<script>`` in an abstract cannot run even if escaping ever failed. The browser tests run with
this header in place and fail on any violation (tests/browser/test_privacy_browser.py).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class ContentSecurityPolicyMiddleware:
    """Add the policy (and ``X-Content-Type-Options: nosniff``) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
