"""Typed readers for settings that come from the environment.

Each reader raises ``ImproperlyConfigured`` with a one-line message naming the variable, so a
bad deployment stops at start-up instead of failing later. Every variable may instead be given as
``<NAME>_FILE``, the path of a file holding the value (container secrets, systemd credentials);
the file's trailing newline is dropped. Setting both is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def env_lookup(name: str, *, environ: Mapping[str, str] = os.environ) -> str | None:
    """Return the variable's value, read from the file named by ``<name>_FILE`` when that is set.

    Raises ImproperlyConfigured when both are set or the file cannot be read.
    """
    value = environ.get(name)
    file_name = environ.get(f"{name}_FILE", "").strip()
    if not file_name:
        return value
    if value not in (None, ""):
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set: use one")
    try:
        return Path(file_name).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ImproperlyConfigured(f"{name}_FILE points at {file_name}, which cannot be read: {reason}") from None


def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] = os.environ) -> str:
    """Return the variable's value, or ``default``; raise when neither exists."""
    value = env_lookup(name, environ=environ)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"{name} is required but not set")
        return default
    return value


def env_optional(name: str, *, environ: Mapping[str, str] = os.environ) -> str | None:
    """Return the variable's value, or None when it is unset or empty."""
    value = (env_lookup(name, environ=environ) or "").strip()
    return value or None


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] = os.environ) -> bool:
    """Return the variable read as a boolean; raise on a word that is not one."""
    raw = env_lookup(name, environ=environ)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, environ: Mapping[str, str] = os.environ) -> int:
    """Return the variable read as an integer no smaller than ``minimum``."""
    raw = env_lookup(name, environ=environ)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, environ: Mapping[str, str] = os.environ) -> float:
    """Return the variable read as a float."""
    raw = env_lookup(name, environ=environ)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_choice(name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] = os.environ) -> str:
    """Return the variable if it is one of ``choices``."""
    value = env_str(name, default, environ=environ)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Return a comma-separated variable as a list of non-empty items."""
    raw = env_lookup(name, environ=environ)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(
    name: str, default: str | None, schemes: tuple[str, ...], *, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Return a URL variable whose scheme is one of ``schemes``, or ``default`` when unset."""
    value = env_optional(name, environ=environ)
    if value is None:
        return default
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {value!r}"
        )
    return value


def env_path(name: str, default: Path, *, base: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Return a directory path (relative paths are taken from ``base``), created if missing."""
    raw = env_optional(name, environ=environ)
    path = Path(raw) if raw else default
    if not path.is_absolute():
        path = base / path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImproperlyConfigured(f"{name} points at {path}, which cannot be created: {error.strerror}") from None
    return path.resolve()
