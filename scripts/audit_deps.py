"""Audit the pinned requirements for known vulnerabilities; fail on any not listed with a reason.

Sources, first that answers wins:

1. an offline OSV database: a folder of OSV JSON advisories (``AUDIT_OSV_DB``; e.g. the unzipped
   https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip, refreshed by a job that has
   internet access), matched here against the exact pinned versions;
2. pip-audit's online services (PyPI's vulnerability data, then OSV's API).

Known vulnerabilities that do not apply are listed in ``audit-ignore.txt`` (``ID  reason``); an
entry without a reason is refused. Exit status: 0 clean, 1 a vulnerability not listed (or a bad
list), 2 no source could be consulted and ``AUDIT_REQUIRED=1`` (otherwise a loud warning and 0,
so a machine without network access and without a database copy says the audit did not run
instead of pretending it passed).

Usage: python scripts/audit_deps.py [requirements files...]   (default: both requirements files)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REQUIREMENTS = (REPO_ROOT / "requirements.txt", REPO_ROOT / "requirements-dev.txt")
IGNORE_FILE = REPO_ROOT / "audit-ignore.txt"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...] = ()
    summary: str = ""

    def ids(self) -> set[str]:
        return {self.advisory, *self.aliases}


def pinned(paths: Iterable[Path]) -> dict[str, str]:
    """Return ``{canonical name: version}`` of every ``name==version`` line (``-r`` followed)."""
    found: dict[str, str] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("-r ", "--requirement ")):
                found.update(pinned([path.parent / stripped.split(maxsplit=1)[1]]))
                continue
            match = _PIN.match(line)
            if match:
                found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def read_ignore(path: Path | None = None) -> dict[str, str]:
    """Return ``{advisory id: reason}`` (default file: audit-ignore.txt); raises ValueError for an
    entry without a reason."""
    path = path or IGNORE_FILE
    if not path.exists():
        return {}
    ignored: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not text:
            continue
        advisory, _, reason = text.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path.name} line {number}: {advisory} has no reason")
        ignored[advisory] = reason.strip()
    return ignored


def _affected(version: Version, affected: dict) -> bool:  # type: ignore[type-arg]
    if any(_same(version, listed) for listed in affected.get("versions", [])):
        return True
    for range_ in affected.get("ranges", []):
        if range_.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        # OSV events come in version order: a version is affected from an "introduced" at or
        # below it until a "fixed" at or below it (or a "last_affected" below it).
        inside = False
        for event in range_.get("events", []):
            if "introduced" in event:
                if event["introduced"] == "0" or _at_least(version, event["introduced"]):
                    inside = True
            elif "fixed" in event:
                if _at_least(version, event["fixed"]):
                    inside = False
            elif "last_affected" in event and not _at_most(version, event["last_affected"]):
                inside = False
        if inside:
            return True
    return False


def _parse(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _same(version: Version, text: str) -> bool:
    other = _parse(text)
    return other is not None and other == version


def _at_least(version: Version, text: str) -> bool:
    other = _parse(text)
    return other is not None and version >= other


def _at_most(version: Version, text: str) -> bool:
    other = _parse(text)
    return other is not None and version <= other


def osv_advisories(folder: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    for path in sorted(folder.rglob("*.json")):
        try:
            yield json.loads(path.read_text())
        except (OSError, ValueError):
            continue


def audit_offline(requirements: dict[str, str], folder: Path) -> list[Finding]:
    """Return the findings of an OSV database folder for the pinned versions."""
    findings = []
    for advisory in osv_advisories(folder):
        if advisory.get("withdrawn"):
            continue
        for affected in advisory.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") != "PyPI":
                continue
            name = canonicalize_name(package.get("name", ""))
            if name not in requirements:
                continue
            version = _parse(requirements[name])
            if version is not None and _affected(version, affected):
                findings.append(
                    Finding(
                        package=name,
                        version=requirements[name],
                        advisory=advisory["id"],
                        aliases=tuple(advisory.get("aliases", [])),
                        summary=advisory.get("summary", ""),
                    )
                )
    return findings


def audit_online(requirements: dict[str, str]) -> list[Finding] | None:
    """Return pip-audit's findings, or None when no service answered for the pinned packages."""
    lines = "".join(f"{name}=={version}\n" for name, version in sorted(requirements.items()))
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as handle:
        handle.write(lines)
        handle.flush()
        for service in ("pypi", "osv"):
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip_audit",
                    "-r",
                    handle.name,
                    "--no-deps",
                    "--disable-pip",
                    "-f",
                    "json",
                    "-s",
                    service,
                    "--progress-spinner",
                    "off",
                    "--timeout",
                    "20",
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
            try:
                report = json.loads(result.stdout)
            except ValueError:
                continue
            dependencies = report.get("dependencies", [])
            if not dependencies or all("skip_reason" in dep for dep in dependencies):
                continue  # the service did not know (or could not be reached for) any package
            return [
                Finding(
                    package=canonicalize_name(dep["name"]),
                    version=dep["version"],
                    advisory=vuln["id"],
                    aliases=tuple(vuln.get("aliases", [])),
                    summary=vuln.get("description", "")[:200],
                )
                for dep in dependencies
                for vuln in dep.get("vulns", [])
            ]
    return None


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or list(DEFAULT_REQUIREMENTS)
    requirements = pinned(paths)
    try:
        ignored = read_ignore()
    except ValueError as error:
        print(f"audit: {error}", file=sys.stderr)
        return 1
    database = os.environ.get("AUDIT_OSV_DB")
    if database and Path(database).is_dir():
        source, findings = f"OSV database {database}", audit_offline(requirements, Path(database))
    else:
        found = audit_online(requirements)
        if found is None:
            print(
                f"audit: NOT RUN for {len(requirements)} pinned packages: no vulnerability service answered and"
                " AUDIT_OSV_DB names no OSV database folder",
                file=sys.stderr,
            )
            return 2 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
        source, findings = "pip-audit online services", found
    open_findings = [finding for finding in findings if not finding.ids() & set(ignored)]
    for finding in findings:
        listed = finding.ids() & set(ignored)
        mark = f"ignored: {ignored[sorted(listed)[0]]}" if listed else "NOT LISTED"
        print(f"{finding.package}=={finding.version} {finding.advisory} {finding.summary[:80]} [{mark}]")
    print(
        f"audit: {len(requirements)} pinned packages checked against {source}: "
        f"{len(findings)} known vulnerabilities, {len(open_findings)} not listed in {IGNORE_FILE.name}"
    )
    return 1 if open_findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
