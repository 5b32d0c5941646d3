"""Every URL pattern is in the endpoint table of docs/security.md, and each kind of caller
(anonymous, plain user, guideline author, staff) gets exactly the access the table says.

A new URL pattern fails this test until it has a row in the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction

from tests.conftest import REPO_ROOT
from tests.security.endpoints import ROLES, api_methods, build_world, call, client_for, fill, outcome, url_patterns

TABLE = REPO_ROOT / "docs" / "security.md"
ROW = re.compile(r"^\| `(?P<route>[^`]*)` \| `(?P<name>[^`]*)` \| (?P<method>[A-Z]+) \|" + r" (\w+) \|" * 4)


def documented(path: Path = TABLE) -> dict[tuple[str, str], tuple[str, dict[str, str]]]:
    rows = {}
    for line in path.read_text().splitlines():
        match = ROW.match(line)
        if match:
            access = dict(zip(ROLES, match.groups()[3:], strict=True))
            rows[(match["route"], match["name"])] = (match["method"], access)
    return rows


def test_every_url_pattern_is_in_the_endpoint_table() -> None:
    table = documented()
    patterns = url_patterns()
    missing = [f"`{route}` `{name}`" for route, name in patterns if (route, name) not in table]
    assert not missing, f"URL patterns missing from the endpoint table in docs/security.md: {missing}"
    stale = [key for key in table if key not in patterns]
    assert not stale, f"rows of docs/security.md with no URL pattern: {stale}"


def test_api_rows_name_the_operation_method() -> None:
    methods = api_methods()
    for (route, name), (method, _) in documented().items():
        if route.startswith("api/v1/") and name in methods:
            assert method == methods[name], (route, name)


@pytest.mark.django_db
def test_each_caller_gets_the_access_the_table_says(settings) -> None:
    settings.PORTAL_API_RATE = "100000/m"
    table = documented()
    wrong = []
    for (route, name), (method, expected) in sorted(table.items()):
        with transaction.atomic():
            world = build_world()
            path = "/admin/" if route == "admin/…" else fill(route, world.values)
            # The owner last: a call it is allowed may change or delete what the others reach.
            for role in ("anonymous", "user", "staff", "author"):
                cache.clear()
                response = call(client_for(world.users[role]), method, path, world.values.get(f"body:{name}", "{}"))
                got = outcome(response)
                if "script-src 'self'" not in response.headers.get("Content-Security-Policy", ""):
                    wrong.append(f"{method} {path} ({name}) as {role}: no content security policy")
                if got != expected[role]:
                    wrong.append(
                        f"{method} {path} ({name}) as {role}: table says {expected[role]}, got {got} "
                        f"[{response.status_code}]"
                    )
            transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)
