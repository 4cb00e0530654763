"""Ruleset version strings: validation and ordering (SPEC §1.8).

This module owns what a version string may look like and how two versions
compare. Versions compare part by part, splitting on dots: a part made only
of digits compares as a number (``2023.10 > 2023.9``); any other part
compares as text, after every numeric part (``2023.1 < 2023.rc``). When one
version is a prefix of the other, the shorter one comes first
(``2023 < 2023.1``). Versions that compare equal by these rules but are
spelled differently (``2023.01`` and ``2023.1``) are ordered by their text, so
the order is total and sorting is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: What may appear in a version: it names a file (``<version>.rules``), so no
#: path separators, no spaces, and no empty dot-parts.
_VERSION_RE = re.compile(r"^[0-9A-Za-z_+-]+(\.[0-9A-Za-z_+-]+)*$")

VersionKey = tuple[tuple[tuple[int, int, str], ...], str]


def is_valid_version(version: str) -> bool:
    """Whether ``version`` is a usable version string (dot-separated, file-name safe)."""
    return bool(_VERSION_RE.match(version))


def invalid_version_reason(version: str) -> str | None:
    """Why ``version`` cannot be a version, in words, or None when it can."""
    if version == "":
        return "a version cannot be empty"
    if is_valid_version(version):
        return None
    return (
        f"'{version}' is not a valid version: use dot-separated parts of letters, digits, "
        "'_', '+' or '-' (for example 2024.1)"
    )


def version_key(version: str) -> VersionKey:
    """A sort key implementing the documented order: numbers numerically, text after numbers."""
    parts: list[tuple[int, int, str]] = []
    for part in version.split("."):
        if part.isascii() and part.isdigit():
            parts.append((0, int(part), ""))
        else:
            parts.append((1, 0, part))
    return (tuple(parts), version)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b``."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """``versions`` oldest first."""
    return sorted(versions, key=version_key)


def latest_version(versions: Iterable[str]) -> str | None:
    """The highest of ``versions``, or None when there are none."""
    ordered = sort_versions(versions)
    return ordered[-1] if ordered else None
