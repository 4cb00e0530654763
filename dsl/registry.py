"""The file registry: rulesets published as ``<dir>/<name>/<version>.rules``.

This module owns finding a ruleset by reference — ``NAME@VERSION``,
``NAME@latest``, ``NAME`` with an as-of date, or a file path — loading its
``extends`` chain (`dsl.inherit`), and the one function every command uses to
turn a RULESET argument into a compiled ruleset: `resolve_ruleset_arg`.

Every file in the folder counts as published (draft/published/retired
statuses live in the database registry, `service.db`). The folder is, in
order: an explicit ``rulesets_dir``, the ``THIDUA_RULESETS`` environment
variable, ``rulesets/`` under the current directory.

A parent named by ``extends`` is looked for first beside the child's own
folder (``<child's folder>/../NAME/VERSION.rules``, so a checkout being edited
is consistent with itself), then in the registry.
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
import re
import threading
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

from dsl import nodes as n
from dsl.errors import ERROR, Diagnostic, FieldViolation, InputError, NotFoundError, RulesetError
from dsl.inherit import ResolvedRuleset, resolve
from dsl.parser import normalize, parse
from dsl.versions import invalid_version_reason, sort_versions

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset

ENV_VAR = "THIDUA_RULESETS"
DEFAULT_DIR = "rulesets"
SUFFIX = ".rules"
LATEST = "latest"

_REF_RE = re.compile(r"^(?P<name>[^\W\d]\w*)(@(?P<version>[^@\s/\\]+))?$")


def rulesets_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The registry folder: ``explicit``, else ``$THIDUA_RULESETS``, else ``./rulesets``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(DEFAULT_DIR)


@dataclass(frozen=True, slots=True)
class RulesetRef:
    """A reference by name: ``version`` is a version, ``"latest"``, or None (latest / as-of)."""

    name: str
    version: str | None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_ref(text: str) -> RulesetRef | None:
    """``NAME``, ``NAME@VERSION`` or ``NAME@latest`` as a reference; None when ``text`` is none of them."""
    m = _REF_RE.match(normalize(text.strip()))
    if m is None:
        return None
    return RulesetRef(m["name"], m["version"])


def looks_like_path(arg: str) -> bool:
    """Whether a RULESET argument names a file rather than a registry reference."""
    return arg.endswith(SUFFIX) or "/" in arg or os.sep in arg or Path(arg).is_file()


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One version in the folder, as listed: where it is, what it is, or why it is broken.

    ``sha256`` is the identity of the resolved ruleset (`dsl.identity`);
    ``error`` (then ``sha256`` is None) is the first problem resolving it.
    """

    name: str
    version: str
    path: str
    sha256: str | None
    effective: tuple[dt.date, dt.date] | None
    parent: str | None
    description: str | None
    error: str | None = None


class Registry:
    """Rulesets under one folder. Parsed files are cached by path and modification time,
    compiled rulesets by the modification times of every file of their chain."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = rulesets_dir(root)
        self._cache: dict[Path, tuple[int, n.SourceFile]] = {}
        self._compiled: dict[tuple[str, str], tuple[tuple[int, ...], CompiledRuleset]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ listing
    def names(self) -> list[str]:
        """Every ruleset name with at least one version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            normalize(d.name) for d in self.root.iterdir() if d.is_dir() and any(d.glob(f"*{SUFFIX}"))
        )

    def versions(self, name: str) -> list[str]:
        """The versions of ``name`` present as files, oldest first (empty when there are none)."""
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            return []  # not a ruleset name: never a folder outside the registry
        folder = self.root / name
        try:
            if not folder.is_dir():
                return []
            found = [
                normalize(p.name[: -len(SUFFIX)])
                for p in folder.iterdir()
                if p.is_file() and p.name.endswith(SUFFIX)
            ]
        except OSError:  # e.g. a name too long for the file system: no such ruleset
            return []
        return sort_versions(v for v in found if invalid_version_reason(v) is None)

    def path_of(self, name: str, version: str) -> Path:
        return self.root / name / f"{version}{SUFFIX}"

    # ------------------------------------------------------------ lookups
    def latest(self, name: str) -> str:
        """The highest version of ``name``. Raises `NotFoundError`."""
        versions = self.versions(name)
        if not versions:
            raise NotFoundError(self._no_such_name(name))
        return versions[-1]

    def as_of(self, name: str, date: dt.date) -> str:
        """The highest version of ``name`` whose (resolved) ``effective`` period contains ``date``."""
        versions = self.versions(name)
        if not versions:
            raise NotFoundError(self._no_such_name(name))
        for version in reversed(versions):
            effective = self.resolve(name, version).ruleset.first(n.Effective)
            if effective is not None and effective.start <= date <= effective.end:
                return str(version)
        raise NotFoundError(
            f"no version of ruleset '{name}' is effective on {date.isoformat()} "
            f"(versions: {', '.join(versions)})"
        )

    def pick_version(self, ref: RulesetRef, as_of: dt.date | None = None) -> str:
        """The concrete version a reference means. Raises `NotFoundError` / `InputError`."""
        if ref.version is not None and as_of is not None:
            raise InputError(
                [
                    FieldViolation(
                        "as_of", f"'{ref}' already names a version; give either a version or a date"
                    )
                ],
                "ruleset reference",
            )
        if as_of is not None:
            return self.as_of(ref.name, as_of)
        if ref.version is None or ref.version == LATEST:
            return self.latest(ref.name)
        return ref.version

    def load(self, name: str, version: str) -> n.SourceFile:
        """Parse one version's file (unresolved). Raises `NotFoundError` or `RulesetError`."""
        reason = invalid_version_reason(version)
        if reason is not None:
            raise NotFoundError(reason)
        path = self.path_of(name, version)
        if not path.is_file():
            raise NotFoundError(self._no_such_version(name, version))
        return self._parse_registered(path, name, version)

    def resolve(self, name: str, version: str) -> ResolvedRuleset:
        """One version with its ``extends`` chain resolved."""
        return resolve(self.load(name, version), self._parent_loader)

    def list(self) -> builtins.list[RegistryEntry]:
        """Every version of every ruleset, by name then version; broken files are listed with their error."""
        from dsl.identity import ruleset_sha256

        out: builtins.list[RegistryEntry] = []
        for name in self.names():
            for version in self.versions(name):
                path = str(self.path_of(name, version))
                try:
                    resolved = self.resolve(name, version)
                except (RulesetError, NotFoundError) as exc:
                    out.append(RegistryEntry(name, version, path, None, None, None, None, str(exc)))
                    continue
                rs = resolved.ruleset
                eff = rs.first(n.Effective)
                desc = rs.first(n.Description)
                parent = resolved.chain[1] if len(resolved.chain) > 1 else None
                out.append(
                    RegistryEntry(
                        name,
                        version,
                        path,
                        ruleset_sha256(rs),
                        (eff.start, eff.end) if isinstance(eff, n.Effective) else None,
                        f"{parent.name}@{parent.version}" if parent else None,
                        desc.text if isinstance(desc, n.Description) else None,
                    )
                )
        return out

    def get(self, name: str, version: str | None = None, *, as_of: dt.date | None = None) -> CompiledRuleset:
        """The compiled ruleset ``name`` at ``version`` (None or "latest": the latest; or as of a date).

        Compiled once per content: the result is reused until a file of its chain changes.
        """
        concrete = self.pick_version(RulesetRef(name, version), as_of)
        resolved = self.resolve(name, concrete)
        stamp = tuple(self._mtime(Path(link.path)) for link in resolved.chain)
        with self._lock:
            hit = self._compiled.get((name, concrete))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        compiled = compile_resolved(resolved)
        with self._lock:
            self._compiled[(name, concrete)] = (stamp, compiled)
        return compiled

    @staticmethod
    def _mtime(path: Path) -> int:
        try:
            return path.stat().st_mtime_ns
        except OSError:
            return -1

    def resolve_ref(self, ref: RulesetRef, as_of: dt.date | None = None) -> ResolvedRuleset:
        return self.resolve(ref.name, self.pick_version(ref, as_of))

    def resolve_file(self, path: str | os.PathLike[str]) -> ResolvedRuleset:
        """A ruleset file anywhere, its parents found beside it or in the registry."""
        return resolve(self._parse(Path(path)), self._parent_loader)

    def resolve_source(self, source: n.SourceFile) -> ResolvedRuleset:
        """An already parsed file, its parents found beside it or in the registry."""
        return resolve(source, self._parent_loader)

    def resolve_text(self, text: str, path: str = "<candidate>") -> ResolvedRuleset:
        """Ruleset source given as text (a candidate not yet in any folder)."""
        return resolve(parse(text, path), self._parent_loader)

    # ------------------------------------------------------------ internals
    def _parent_loader(self, name: str, version: str, child: n.SourceFile) -> n.SourceFile:
        beside = Path(child.path).parent.parent / name / f"{version}{SUFFIX}"
        if child.path and not child.path.startswith("<") and beside.is_file():
            return self._parse_registered(beside, name, version)
        return self.load(name, version)

    def _parse(self, path: Path) -> n.SourceFile:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"no such ruleset file: {path}") from None
        with self._lock:
            hit = self._cache.get(path)
            if hit is not None and hit[0] == stat.st_mtime_ns:
                return hit[1]
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise RulesetError(
                [
                    Diagnostic(
                        ERROR, f"the file is not UTF-8 text ({exc.reason})", n.Span(1, 1, 1, 2, str(path))
                    )
                ]
            ) from None
        sf = parse(text, str(path))
        with self._lock:
            self._cache[path] = (stat.st_mtime_ns, sf)
        return sf

    def _parse_registered(self, path: Path, name: str, version: str) -> n.SourceFile:
        """Parse a file at ``<name>/<version>.rules`` and check it declares that name and version."""
        sf = self._parse(path)
        rs = sf.ruleset
        if rs is None:
            raise RulesetError(
                [
                    Diagnostic(
                        ERROR, "the file declares no ruleset", n.Span(1, 1, 1, 2, str(path)), "no-ruleset"
                    )
                ],
                sf.source,
            )
        if (rs.name, rs.version) != (name, version):
            header = n.Span(rs.span.line, rs.span.column, rs.span.line, rs.span.column + 7, str(path))
            raise RulesetError(
                [
                    Diagnostic(
                        ERROR,
                        f"the file {name}/{version}{SUFFIX} declares ruleset {rs.name} version "
                        f'"{rs.version}"; a registry file must declare the name and version of its path',
                        header,
                        "registry-mismatch",
                        f"rename the file to {rs.name}/{rs.version}{SUFFIX} or fix the declaration",
                    )
                ],
                sf.source,
            )
        return sf

    def _no_such_name(self, name: str) -> str:
        known = self.names()
        close = get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"no ruleset named '{name}' in {self.root}{hint}"

    def _no_such_version(self, name: str, version: str) -> str:
        versions = self.versions(name)
        if not versions:
            return self._no_such_name(name)
        return f"ruleset '{name}' has no version '{version}' in {self.root} (versions: {', '.join(versions)})"


def load_resolved_arg(
    arg: str,
    *,
    rulesets_dir: str | os.PathLike[str] | None = None,
    as_of: dt.date | None = None,
    registry: Registry | None = None,
) -> ResolvedRuleset:
    """A RULESET argument (path, ``NAME@VERSION``, ``NAME@latest``, ``NAME`` [+ as-of]) resolved, not compiled."""
    reg = registry if registry is not None else Registry(rulesets_dir)
    if looks_like_path(arg):
        if as_of is not None:
            raise InputError(
                [FieldViolation("as_of", f"'{arg}' is a file; --as-of picks a version from the registry")],
                "ruleset reference",
            )
        return reg.resolve_file(arg)
    ref = parse_ref(arg)
    if ref is None:
        raise NotFoundError(
            f"'{arg}' is neither a ruleset file nor a reference like NAME@VERSION, NAME@latest or NAME"
        )
    return reg.resolve_ref(ref, as_of)


def compile_resolved(resolved: ResolvedRuleset) -> CompiledRuleset:
    """Check and compile a resolved ruleset (with the sources of its whole chain for diagnostics)."""
    from dsl.api import compile_checked

    return compile_checked(
        resolved.ruleset,
        source=resolved.text,
        path=resolved.path,
        tests=resolved.tests,
        sources=resolved.sources,
    )


def resolve_ruleset_arg(
    arg: str,
    *,
    rulesets_dir: str | os.PathLike[str] | None = None,
    as_of: dt.date | None = None,
    registry: Registry | None = None,
) -> CompiledRuleset:
    """What every command does with its RULESET argument: find, resolve, check, compile.

    ``arg`` is a file path, ``NAME@VERSION``, ``NAME@latest`` or ``NAME``
    (the latest, or the one effective on ``as_of``). Raises `NotFoundError`
    (no such file, name or version), `InputError` (a version or a path given
    with a date), or `RulesetError` (the diagnostics of a file of the chain).
    """
    reg = registry if registry is not None else Registry(rulesets_dir)
    if not looks_like_path(arg):
        ref = parse_ref(arg)
        if ref is not None:
            return reg.get(ref.name, ref.version, as_of=as_of)
    return compile_resolved(load_resolved_arg(arg, as_of=as_of, registry=reg))
