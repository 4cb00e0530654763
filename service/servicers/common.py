"""Finding and compiling the ruleset a request names, shared by both servicers.

A `RulesetRef` message (name, version or empty for the latest) is resolved in
the rulesets folder (`dsl.registry.Registry`, its ``extends`` chain
included) and compiled once per content: the compiled-ruleset cache is keyed
by the SHA-256 of the chain's source texts, so an edited file is recompiled
on its first use after the recheck interval (`recheck_seconds`: 1 s in
`thidua serve`, 0 — every call — by default in code) and nothing but file
contents decides an answer.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from dsl.errors import FieldViolation, InputError, RulesetError
from dsl.parser import normalize
from dsl.registry import Registry
from dsl.registry import RulesetRef as RegistryRef
from service.cache import LRUCache
from service.config import Limits
from service.errors import ServiceError, hide_folder
from service.gen.thidua.v1 import values_pb2 as vals
from service.limits import check_source, check_tree, depth_guarded
from service.logging import note_ruleset

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from dsl.inherit import ResolvedRuleset
    from service.db.published import PublishedRulesets


def content_key(resolved: ResolvedRuleset) -> str:
    """SHA-256 over the texts of every file of the chain, in chain order (the cache key)."""
    digest = hashlib.sha256()
    for link in resolved.chain:
        text = resolved.sources.get(link.path, "")
        digest.update(link.path.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def compile_resolved(resolved: ResolvedRuleset) -> CompiledRuleset:
    """Check and compile a resolved ruleset (its ``extends`` chain already flattened)."""
    from dsl.api import compile_checked

    path = resolved.chain[0].path if resolved.chain else "<resolved>"
    source = resolved.sources.get(path, "")
    return compile_checked(resolved.ruleset, source=source, path=path, sources=resolved.sources)


@dataclass(frozen=True, slots=True)
class _Seen:
    """A resolution remembered: the chain's files, their stat signature, the compiled ruleset."""

    files: tuple[str, ...]
    signature: tuple[tuple[int, int, int], ...]
    compiled: CompiledRuleset


class RulesetSource:
    """The rulesets folder plus the compiled-ruleset cache; safe to share between threads."""

    def __init__(
        self, root: Path, limits: Limits, cache_size: int = 64, recheck_seconds: float = 0.0
    ) -> None:
        self.registry = Registry(root)
        hide_folder(root)  # errors name its files relative to it (service.errors.public_text)
        self.limits = limits
        self.cache: LRUCache[CompiledRuleset] = LRUCache(cache_size)
        self._seen: dict[tuple[str, str], _Seen] = {}
        # When each remembered resolution's files were last found unchanged (time.monotonic).
        # Within `recheck_seconds` of that a call trusts them without a stat (see `compiled`).
        self.recheck_seconds = recheck_seconds
        self._checked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        # Versions published through the API live in the database (service.db.published); set by
        # build_server when there is one. The folder answers first; these fill its gaps.
        self.published: PublishedRulesets | None = None

    def resolve(self, ref: vals.RulesetRef, field: str = "ruleset") -> ResolvedRuleset:
        """The resolved (flat) ruleset a reference names. NotFoundError when there is none."""
        name = normalize(ref.name.strip())
        if not name:
            raise InputError([FieldViolation(f"{field}.name", "a ruleset name is required")], what="request")
        version = ref.version.strip() or None
        return self.registry.resolve_ref(RegistryRef(name, version))

    def compile(self, resolved: ResolvedRuleset) -> CompiledRuleset:
        """The compiled ruleset for a resolved one, from the cache when its content was seen before."""
        return self.cache.get_or_build(content_key(resolved), lambda: compile_resolved(resolved))

    def compiled(self, ref: vals.RulesetRef, field: str = "ruleset") -> CompiledRuleset:
        """Resolve and compile what ``ref`` names; the SHA-256 goes into the call's log event.

        A file of the rulesets folder that does not check is the server's
        problem, not the client's: FAILED_PRECONDITION with its first errors.
        """
        name = ref.name.strip()
        if not name.isascii():  # ASCII is its own NFC form: the common case skips normalize
            name = normalize(name)
        version = ref.version.strip()
        key = (name, version)
        seen = self._fresh(key)
        # A version the folder has is the folder's to answer; only "latest", or a version the
        # folder does not hold (as far as this process knows), asks the database.
        if self.published is not None and name and not (seen is not None and version):
            stored = self.published.lookup(name, version, self.registry)
            if stored is not None:
                note_ruleset(stored.sha256)
                return stored
        if seen is not None:
            note_ruleset(seen.sha256)
            return seen
        try:
            resolved = self.resolve(ref, field)
            compiled = self.compile(resolved)
        except RulesetError as exc:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"ruleset '{ref.name}@{ref.version or 'latest'}' in the server's rulesets folder "
                f"does not check: {exc.message}",
            ) from exc
        self._remember(key, resolved, compiled)
        note_ruleset(compiled.sha256)
        return compiled

    def _fresh(self, key: tuple[str, str]) -> CompiledRuleset | None:
        """The compiled ruleset remembered for ``key`` if its files are known unchanged: looked
        at within the recheck interval, or stat-ed now and found the same."""
        # Lock-free reads: one dict lookup is atomic, and `_seen`/`_checked` entries are only
        # ever replaced whole (under the lock, in `_remember`).
        seen = self._seen.get(key)
        if seen is None:
            return None
        now = time.monotonic()
        if now - self._checked.get(key, -math.inf) < self.recheck_seconds:
            return seen.compiled
        if seen.signature == self._signature(seen.files, *key):
            self._checked[key] = now
            return seen.compiled
        return None

    # Resolving a reference reads the folder and hashes the chain's texts on every call, which
    # costs more than scoring. `_seen` remembers, per (name, version), the files a resolution
    # read and their (mtime, size, inode) — plus the name's folder for "latest", whose listing
    # changes when a version is added or removed. A call whose files all still stat the same
    # reuses the compiled ruleset; any change resolves again. Nothing else is remembered.
    # The stats themselves are taken at most once per `recheck_seconds` per reference: a stat
    # is a system call that lets go of the GIL, and under many request threads that hand-over
    # cost more server CPU per Score than the scoring (bench/bench_grpc.py, docs/service.md).
    def _signature(
        self, files: tuple[str, ...], name: str, version: str
    ) -> tuple[tuple[int, int, int], ...] | None:
        paths = list(files)
        if not version:
            paths.append(str(self.registry.root / name))
        out = []
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                return None
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def _remember(self, key: tuple[str, str], resolved: ResolvedRuleset, compiled: CompiledRuleset) -> None:
        files = tuple(link.path for link in resolved.chain)
        signature = self._signature(files, *key)
        if signature is None:
            return
        # Taken after the read: make sure the files still hold what was compiled, else a change
        # made between the read and the stat would hide behind the new signature.
        for path in files:
            try:
                current = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return
            if current != resolved.sources.get(path):
                return
        with self._lock:
            if len(self._seen) >= 4 * self.cache.capacity:
                self._seen.clear()
                self._checked.clear()
            self._seen[key] = _Seen(files, signature, compiled)
            self._checked[key] = time.monotonic()

    def compile_text(self, text: str, path: str, field: str) -> tuple[ResolvedRuleset, CompiledRuleset]:
        """Check the limits, resolve ``extends`` against the folder, check and compile source text.

        A `RulesetError` leaves with ``field`` set, so its violations name the request field.
        """
        limits = self.limits
        check_source(text, field, limits)

        def work() -> tuple[ResolvedRuleset, CompiledRuleset]:
            resolved = self.registry.resolve_text(text, path)
            check_tree(resolved.ruleset, field, limits)
            return resolved, compile_resolved(resolved)

        try:
            return depth_guarded(field, limits, work)
        except RulesetError as exc:
            exc.field = field  # type: ignore[attr-defined]  # read by service.errors.map_error
            raise
