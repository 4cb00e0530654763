"""PublishedRulesets: what the database answers for a ruleset the folder does not hold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dsl.registry import Registry
from service.cache import LRUCache
from service.db import Store
from service.db.importer import import_rulesets
from service.db.published import PublishedRulesets
from tests.service.grpc_helpers import DATA


def _counted(method: Callable[..., Any], calls: list[str]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(method.__name__)
        return method(*args, **kwargs)

    return wrapper


def test_latest_is_read_from_the_database_once_per_ttl(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer published version serves "latest" twice within the ttl from a single database read."""
    folder = tmp_path / "folder" / "divz"
    folder.mkdir(parents=True)
    divz = (DATA / "rulesets" / "divz" / "1.rules").read_text(encoding="utf-8")
    (folder / "1.rules").write_text(divz, encoding="utf-8")
    newer = tmp_path / "newer" / "divz"
    newer.mkdir(parents=True)
    (newer / "3.rules").write_text(divz.replace('version "1"', 'version "3"'), encoding="utf-8")
    assert ["divz@3"] == import_rulesets(store, newer.parent).published

    calls: list[str] = []
    for name in ("find_ruleset", "list_rulesets", "get_ruleset"):
        monkeypatch.setattr(store, name, _counted(getattr(store, name), calls))
    published = PublishedRulesets(store, LRUCache(4), ttl=3600)
    registry = Registry(folder.parent)

    first = published.lookup("divz", "", registry)
    second = published.lookup("divz", "", registry)

    assert first is not None and second is not None
    assert ("3", "3") == (first.version, second.version)
    assert ["list_rulesets"] == calls


def test_remembered_latest_versions_stay_bounded(store: Store) -> None:
    """Asking "latest" for ever new names (names come from clients) never remembers more than the bound."""
    from service.db import published as module

    rulesets = PublishedRulesets(store, LRUCache(4))
    for i in range(module._LATEST_REMEMBERED + 10):
        rulesets._latest_published(f"nope{i}")
    assert len(rulesets._latest) <= module._LATEST_REMEMBERED
