"""`make test` installs the system packages the suite needs: the step that decides what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install_test_deps.sh"


def _bin_with(tmp_path: Path, commands: list[str]) -> str:
    """A PATH holding only bash's basics and the named commands (as links to the real ones)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ["bash", "id", "env", *commands]:
        real = shutil.which(name)
        assert real, f"{name} is needed on this machine for the test"
        (folder / name).symlink_to(real)
    return str(folder)


def _run(path: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), **extra}
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_nothing_to_install_when_every_command_is_present(tmp_path: Path) -> None:
    result = _run(_bin_with(tmp_path, ["redis-server", "chromium", "mvn", "javac"]))
    assert result.returncode == 0, result.stderr
    assert "all present" in result.stdout


def test_missing_commands_name_their_debian_packages(tmp_path: Path) -> None:
    result = _run(_bin_with(tmp_path, ["mvn"]), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "would install: redis-server chromium default-jdk-headless"


def test_missing_postgresql_and_nginx_are_installed_too(tmp_path: Path) -> None:
    # Neither on PATH nor in Debian's usual places (pointed elsewhere here).
    result = _run(
        _bin_with(tmp_path, ["redis-server", "chromium", "mvn", "javac"]),
        "--dry-run",
        POSTGRES_BIN_GLOB=str(tmp_path / "no-postgresql" / "*"),
        NGINX_BIN=str(tmp_path / "no-nginx"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "would install: postgresql nginx"


def test_postgresql_in_debians_folder_counts_as_present(tmp_path: Path) -> None:
    server = tmp_path / "postgresql" / "15" / "bin"
    server.mkdir(parents=True)
    (server / "initdb").write_text("#!/bin/sh\n")
    (server / "initdb").chmod(0o755)
    nginx = tmp_path / "nginx"
    nginx.write_text("#!/bin/sh\n")
    nginx.chmod(0o755)
    result = _run(
        _bin_with(tmp_path, ["redis-server", "chromium", "mvn", "javac"]),
        POSTGRES_BIN_GLOB=str(tmp_path / "postgresql" / "*" / "bin"),
        NGINX_BIN=str(nginx),
    )
    assert result.returncode == 0, result.stderr
    assert "all present" in result.stdout


def test_install_steps_live_in_make_test_only() -> None:
    root = SCRIPT.parent.parent
    ci = (root / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "apt-get" not in ci
    makefile = (root / "Makefile").read_text()
    assert "scripts/install_test_deps.sh" in makefile


def test_a_user_who_may_not_install_gets_the_exact_command(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        result = _run(_bin_with(tmp_path, ["mvn", "javac", "chromium"]))
    else:  # as root, try it as the unprivileged user "nobody"
        shared = Path(tempfile.mkdtemp(prefix="deps-"))  # pytest's tmp_path is private to root
        shared.chmod(0o755)
        path = _bin_with(shared, ["mvn", "javac", "chromium"])
        script = shared / SCRIPT.name  # the checkout may sit where "nobody" cannot read
        shutil.copy(SCRIPT, script)
        script.chmod(0o755)
        result = subprocess.run(
            ["runuser", "-u", "nobody", "--", "env", f"PATH={path}", "bash", str(script)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        shutil.rmtree(shared)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "test dependencies missing: run as root: apt-get update && apt-get install -y redis-server"
    )
