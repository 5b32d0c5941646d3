"""No template holds inline script or style: the content security policy would refuse it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

INLINE = {
    "inline <script> body": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"\sstyle\s*=", re.I),
    "on...= event handler": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def templates() -> list[Path]:
    roots = [REPO_ROOT / "templates", *REPO_ROOT.glob("*/templates")]
    return sorted(path for root in roots for path in root.rglob("*.html"))


def test_templates_are_found() -> None:
    assert len(templates()) > 20


@pytest.mark.parametrize("path", templates(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_template_has_no_inline_script_or_style(path: Path) -> None:
    text = path.read_text()
    found = [what for what, pattern in INLINE.items() if pattern.search(text)]
    assert not found, f"{path.relative_to(REPO_ROOT)}: {found}; move it to a file under static/"
