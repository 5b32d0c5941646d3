from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from evidence_portal.env import env_bool, env_choice, env_int, env_str, env_url


def test_missing_required_variable_names_it() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^SECRET_KEY is required but not set$"):
        env_str("SECRET_KEY", environ={})


def test_invalid_boolean_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_unknown_backend_choice_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="SEARCH_BACKEND must be one of embedded, elasticsearch"):
        env_choice("SEARCH_BACKEND", "embedded", ("embedded", "elasticsearch"), environ={"SEARCH_BACKEND": "solr"})


def test_url_with_wrong_scheme_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must be a URL starting with redis://"):
        env_url("REDIS_URL", None, ("redis",), environ={"REDIS_URL": "http://localhost"})


def test_integer_below_minimum_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="SEARCH_CANDIDATES must be at least 10"):
        env_int("SEARCH_CANDIDATES", 200, minimum=10, environ={"SEARCH_CANDIDATES": "3"})
