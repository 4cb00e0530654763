"""Tests for service/cache.py: bounded LRU, build once per key, safe under threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.cache import LRUCache


def test_hit_returns_the_same_object_without_building() -> None:
    """A second lookup of a key returns the stored value and does not build again."""
    cache: LRUCache[object] = LRUCache(2)
    built: list[str] = []
    first = cache.get_or_build("a", lambda: built.append("a") or object())
    assert first is cache.get_or_build("a", lambda: built.append("again") or object())
    assert ["a"] == built
    assert (1, 1) == (cache.hits, cache.misses)


def test_least_recently_used_is_evicted() -> None:
    """Beyond capacity the least recently used key goes; a recently read one stays."""
    cache: LRUCache[int] = LRUCache(2)
    cache.get_or_build("a", lambda: 1)
    cache.get_or_build("b", lambda: 2)
    cache.get_or_build("a", lambda: 0)  # a is now the most recent
    cache.get_or_build("c", lambda: 3)
    assert 2 == len(cache)
    assert "a" in cache
    assert "b" not in cache


def test_capacity_must_be_positive() -> None:
    """A cache of no entries is a configuration error."""
    with pytest.raises(ValueError):
        LRUCache(0)


def test_concurrent_lookups_agree_on_one_value() -> None:
    """Threads racing on one key all get the same stored object."""
    cache: LRUCache[object] = LRUCache(4)
    barrier = threading.Barrier(8)

    def lookup(_: int) -> object:
        barrier.wait()
        return cache.get_or_build("k", object)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lookup, range(8)))
    assert 1 == len({id(r) for r in results})
    assert 1 == len(cache)
