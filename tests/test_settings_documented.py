"""Every variable settings.py reads is documented in README.md and listed in .env.example."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

READERS = r"env_(?:str|optional|bool|int|float|choice|list|url|path)"


def settings_variables() -> set[str]:
    source = (REPO_ROOT / "evidence_portal" / "settings.py").read_text()
    return set(re.findall(rf'{READERS}\(\s*"([A-Z_]+)"', source))


def test_settings_module_reads_the_agreed_variables() -> None:
    assert {"EVIDENCE_DATA_DIR", "DATABASE_URL", "SEARCH_BACKEND", "SECRET_KEY", "REDIS_URL"} <= settings_variables()


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert settings_variables() - documented == set()


def test_every_setting_is_in_env_example() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    assert settings_variables() - listed == set()
