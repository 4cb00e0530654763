"""Importing a rulesets folder into the database, idempotent by hash (SPEC §4).

The service calls `import_rulesets` on start with its bundled ``rulesets/``
folder. Each ``<name>/<version>.rules`` is resolved (``extends``), checked and
compiled, then published with its canonical resolved text and SHA-256
(`dsl.identity`). A version the database already holds with the same SHA-256
is left alone without compiling it again; a version published with other
content is reported as a conflict and keeps its stored content (a published
version is immutable). One bad file never stops the others, nor the service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dsl.api import compile_checked
from dsl.errors import ConflictError, ThiduaError
from dsl.registry import Registry
from service.db import canonical
from service.db.errors import UnavailableError
from service.db.repository import Store

#: The author recorded for versions that came from a folder rather than a person.
IMPORT_AUTHOR = "import"


@dataclass(frozen=True, slots=True)
class PreparedRuleset:
    """What `Store.publish` needs for one file: its text, resolved text and identity."""

    name: str
    version: str
    source: str
    resolved_source: str
    sha256: str


@dataclass(slots=True)
class ImportReport:
    """What an import did, by ``name@version``: published now, already there, refused (with why)."""

    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{len(self.published)} published", f"{len(self.unchanged)} unchanged"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


def prepare(registry: Registry, name: str, version: str, *, check: bool = True) -> PreparedRuleset:
    """Resolve (and, with ``check``, check and compile) one registry file. Raises `RulesetError`."""
    # Imported here, not at module level: `thidua db` must load even where dsl.identity cannot.
    from dsl.identity import canonical_text

    path = registry.path_of(name, version)
    source = path.read_text(encoding="utf-8")
    resolved = registry.resolve(name, version)
    resolved_source = canonical_text(resolved.ruleset)
    if check:
        sf_tests = registry.load(name, version).tests
        compile_checked(
            resolved.ruleset, source=source, path=str(path), tests=sf_tests, sources=resolved.sources
        )
    # dsl.identity hashes exactly this text, so the stored text and hash always agree.
    return PreparedRuleset(name, version, source, resolved_source, canonical.sha256_text(resolved_source))


def import_rulesets(
    store: Store, folder: str | os.PathLike[str], *, author: str = IMPORT_AUTHOR
) -> ImportReport:
    """Publish every ruleset file of ``folder`` that the database does not hold yet.

    Raises `UnavailableError` only when the database cannot be reached; every
    other problem is recorded in the report against its ``name@version``.
    """
    report = ImportReport()
    root = Path(folder)
    if not root.is_dir():
        report.failed[str(root)] = f"no rulesets folder at {root}"
        return report
    registry = Registry(root)
    for name in registry.names():
        for version in registry.versions(name):
            ref = f"{name}@{version}"
            try:
                light = prepare(registry, name, version, check=False)
                stored = store.find_ruleset(name, version)
                if stored is not None and stored.sha256 == light.sha256:
                    report.unchanged.append(ref)
                    continue
                prepared = prepare(registry, name, version)
                outcome = store.publish(
                    name, version, prepared.source, prepared.resolved_source, prepared.sha256, author
                )
            except UnavailableError:
                raise
            except ConflictError as exc:
                report.failed[ref] = exc.message
                continue
            except (ThiduaError, OSError) as exc:
                report.failed[ref] = str(exc)
                continue
            (report.published if outcome.created else report.unchanged).append(ref)
    return report
