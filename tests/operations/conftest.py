"""Users in the four roles the operations permission tests cross, and an index of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from search.backends import reset_backends
from tests.curation.conftest import make_user
from tests.portal.corpus import point_embedded_index_at


@pytest.fixture
def plain_user(db: None) -> User:
    return make_user("pat", author=False)


@pytest.fixture
def author(db: None) -> User:
    return make_user("gina", author=True)


@pytest.fixture
def staff(db: None) -> User:
    user = make_user("sam", author=False)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def own_index(settings: Any, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "index"
    point_embedded_index_at(settings, path)
    yield path
    reset_backends()
