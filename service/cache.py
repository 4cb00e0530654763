"""A bounded, thread-safe LRU of compiled rulesets keyed by the SHA-256 of their source.

Compiling a ruleset costs milliseconds; scoring costs microseconds, so the
server keeps recent compilations. The key is a content hash, so the cache can
never serve a stale ruleset: a changed file is a different key, and a process
that starts empty answers exactly like one that has a warm cache (the service
stays stateless). Two threads missing the same key at once may both compile;
one result is kept — cheaper than holding a lock while compiling.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """At most ``capacity`` values, least recently used evicted first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("cache capacity must be at least 1")
        self.capacity = capacity
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: str, build: Callable[[], V]) -> V:
        """The value under ``key``, building (outside the lock) and storing it on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = build()
        with self._lock:
            if key in self._items:
                # Another thread built it meanwhile: keep one object for everyone.
                self._items.move_to_end(key)
                return self._items[key]
            self._items[key] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items
