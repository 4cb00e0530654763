"""Rulesets published into the database, for requests that name them (PublishRuleset → Score).

The rulesets folder answers first (`service.servicers.common.RulesetSource`);
this module answers what the folder does not hold: a version published
through the API, and "latest" when the database's highest published version
is newer than the folder's. Drafts are never used. A version is compiled
from its stored resolved text once per SHA-256 (the shared compiled-ruleset
cache). "Latest" asks the database at most once per ``ttl`` seconds per name,
so scoring with an empty version stays cheap.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from dsl.versions import version_key
from service.db.models import PUBLISHED, RETIRED
from service.db.records import StoredRuleset
from service.db.repository import Store

if TYPE_CHECKING:
    from dsl.api import CompiledRuleset
    from dsl.registry import Registry
    from service.cache import LRUCache


#: Most names whose newest published version is remembered at once.
_LATEST_REMEMBERED = 1024


class PublishedRulesets:
    """Published versions from a `Store`, compiled on demand."""

    def __init__(self, store: Store, cache: LRUCache[CompiledRuleset], ttl: float = 5.0) -> None:
        self.store = store
        self.cache = cache
        self.ttl = ttl
        self._latest: dict[str, tuple[float, StoredRuleset | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, name: str, version: str, registry: Registry) -> CompiledRuleset | None:
        """The compiled ruleset the database should answer for ``name``/``version``, or None (the folder's turn)."""
        if version:
            if version in registry.versions(name):
                return None
            stored = self.store.find_ruleset(name, version)
            if stored is None or stored.status not in (PUBLISHED, RETIRED):
                return None
            return self.compile_stored(stored)
        # "latest": the remembered newest published version first, so that a name with none
        # (the common case) costs no look at the folder.
        latest = self._latest_published(name)
        if latest is None:
            return None
        folder_versions = registry.versions(name)
        if folder_versions and version_key(latest.version) <= version_key(folder_versions[-1]):
            return None
        return self.compile_stored(latest)

    def _latest_published(self, name: str) -> StoredRuleset | None:
        now = time.monotonic()
        with self._lock:
            hit = self._latest.get(name)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        published = self.store.list_rulesets(name, status=PUBLISHED)
        # Kept whole: a published version's content never changes, so the record stays true.
        latest = published[-1] if published else None
        with self._lock:
            # Names come from clients: what is remembered stays bounded (as RulesetSource's own).
            if len(self._latest) >= _LATEST_REMEMBERED:
                self._latest.clear()
            self._latest[name] = (now, latest)
        return latest

    def forget(self, name: str) -> None:
        """Drop the remembered "latest" of ``name`` (after a publish through this process)."""
        with self._lock:
            self._latest.pop(name, None)

    def stored_versions(self, name: str | None = None) -> list[StoredRuleset]:
        """Every published or retired version in the database (of ``name``, or of every name)."""
        return [s for s in self.store.list_rulesets(name) if s.status in (PUBLISHED, RETIRED)]

    def compile_stored(self, stored: StoredRuleset) -> CompiledRuleset:
        """A stored version compiled from its resolved text (cached by SHA-256)."""
        from dsl.api import compile_ruleset

        return self.cache.get_or_build(
            "db:" + stored.sha256,
            lambda: compile_ruleset(stored.resolved_source, f"<published {stored.ref}>"),
        )
