"""Client construction and error wording for the Elasticsearch backend."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from search.backends.base import SearchBackendError


def make_client(options: dict[str, Any]) -> Elasticsearch:
    """Return a client for ``OPTIONS`` (url, api_key or username/password, ca_certs).

    Raises SearchBackendError when no URL is configured.
    """
    url = options.get("url")
    if not url:
        raise SearchBackendError("the elasticsearch backend needs OPTIONS['url'] (set ELASTICSEARCH_URL)")
    retries = options.get("max_retries")
    kwargs: dict[str, Any] = {
        "request_timeout": float(options.get("request_timeout") or 30),
        "max_retries": 2 if retries is None else int(retries),
        "retry_on_timeout": True,
    }
    if options.get("api_key"):
        kwargs["api_key"] = str(options["api_key"])
    elif options.get("username"):
        kwargs["basic_auth"] = (str(options["username"]), str(options.get("password") or ""))
    if options.get("ca_certs"):
        kwargs["ca_certs"] = str(options["ca_certs"])
    return Elasticsearch(str(url), **kwargs)


def not_found_index(exc: NotFoundError) -> bool:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


def reason(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        cause = (error.get("root_cause") or [error])[0]
        return f"{cause.get('type', error.get('type'))}: {cause.get('reason', error.get('reason'))}"
    return str(exc.message or exc)


def item_reason(result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        caused = error.get("caused_by") or {}
        reason = f"{error.get('type')}: {error.get('reason')}"
        return f"{reason} ({caused.get('reason')})" if caused.get("reason") else reason
    return str(error or f"status {result.get('status')}")
