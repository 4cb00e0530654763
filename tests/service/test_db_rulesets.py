"""service.db.repository: ruleset versions — publish semantics, drafts, retirement, races."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dsl.errors import ConflictError, InputError, NotFoundError
from service.db import PublishResult, Store

SOURCE = 'ruleset khoi3 version "{v}" {{\n  description "{d}"\n}}\n'


def content(version: str, description: str = "năm 2023") -> tuple[str, str, str]:
    """A (source, resolved source, sha256) triple for a tiny ruleset text."""
    source = SOURCE.format(v=version, d=description)
    resolved = source.replace("  ", "    ")
    return source, resolved, hashlib.sha256(resolved.encode()).hexdigest()


def publish(
    store: Store, version: str, description: str = "năm 2023", author: str = "alice"
) -> PublishResult:
    source, resolved, sha = content(version, description)
    return store.publish("khoi3", version, source, resolved, sha, author)


def test_publish_stores_every_field(store: Store) -> None:
    """A first publish stores source, resolved source, SHA-256, status, author and time."""
    source, resolved, sha = content("2023.1")
    result = store.publish("khoi3", "2023.1", source, resolved, sha, "alice")
    assert True is result.created
    stored = store.get_ruleset("khoi3", "2023.1")
    assert (source, resolved, sha, "published", "alice") == (
        stored.source,
        stored.resolved_source,
        stored.sha256,
        stored.status,
        stored.author,
    )
    assert stored.created_at.tzinfo is not None
    assert stored.published_at is not None
    assert result.ruleset == stored


def test_same_content_again_is_a_no_op(store: Store) -> None:
    """Publishing the same content twice returns the first version with created=False."""
    first = publish(store, "2023.1")
    again = publish(store, "2023.1", author="bob")
    assert False is again.created
    assert first.ruleset == again.ruleset
    assert 1 == len(store.list_rulesets("khoi3"))


def test_other_content_under_a_published_version_conflicts(store: Store) -> None:
    """Other content under a published name and version is a ConflictError; the stored one is kept."""
    first = publish(store, "2023.1")
    with pytest.raises(ConflictError, match=r"khoi3@2023.1 is already published with other content"):
        publish(store, "2023.1", description="sửa lại")
    assert first.ruleset == store.get_ruleset("khoi3", "2023.1")


def test_latest_is_the_highest_published_version(store: Store) -> None:
    """An empty version means the highest published version by dotted-number order."""
    for version in ("2023.9", "2023.10", "2023.2"):
        publish(store, version)
    source, resolved, sha = content("2024.1")
    store.save_draft("khoi3", "2024.1", source, resolved, sha, "alice")
    assert "2023.10" == store.get_ruleset("khoi3").version
    assert ["2023.2", "2023.9", "2023.10", "2024.1"] == [r.version for r in store.list_rulesets("khoi3")]


def test_unknown_ruleset_is_not_found(store: Store) -> None:
    """Asking for a version or a name that is not stored raises NotFoundError."""
    with pytest.raises(NotFoundError, match=r"khoi3@2023\.1 not found"):
        store.get_ruleset("khoi3", "2023.1")
    with pytest.raises(NotFoundError, match="no published version"):
        store.get_ruleset("khoi3")
    assert None is store.find_ruleset("khoi3", "2023.1")


def test_draft_changes_until_published(store: Store) -> None:
    """A draft's content may be replaced; publishing it freezes the last content."""
    s1, r1, h1 = content("2024.1", "bản nháp 1")
    s2, r2, h2 = content("2024.1", "bản nháp 2")
    assert True is store.save_draft("khoi3", "2024.1", s1, r1, h1, "alice").created
    assert False is store.save_draft("khoi3", "2024.1", s1, r1, h1, "alice").created
    assert h2 == store.save_draft("khoi3", "2024.1", s2, r2, h2, "bob").ruleset.sha256
    assert "draft" == store.get_ruleset("khoi3", "2024.1").status
    with pytest.raises(NotFoundError):
        store.get_ruleset("khoi3")
    published = store.publish("khoi3", "2024.1", s2, r2, h2, "bob")
    assert (True, "published", h2) == (published.created, published.ruleset.status, published.ruleset.sha256)
    with pytest.raises(ConflictError):
        store.save_draft("khoi3", "2024.1", s1, r1, h1, "alice")


def test_retired_version_is_kept_but_not_latest(store: Store) -> None:
    """A retired version stays readable and immutable but is no longer the latest."""
    publish(store, "2023.1")
    publish(store, "2023.2")
    retired = store.retire("khoi3", "2023.2")
    assert ("retired", True) == (retired.status, retired.retired_at is not None)
    assert retired == store.retire("khoi3", "2023.2")
    assert "2023.1" == store.get_ruleset("khoi3").version
    assert False is publish(store, "2023.2").created
    with pytest.raises(ConflictError):
        publish(store, "2023.2", description="khác")


def test_ruleset_by_sha256_finds_stored_content(store: Store) -> None:
    """A result's SHA-256 leads back to the stored ruleset that produced it."""
    published = publish(store, "2023.1").ruleset
    assert published == store.ruleset_by_sha256(published.sha256)
    assert None is store.ruleset_by_sha256("0" * 64)


def test_publish_rejects_bad_fields_all_at_once(store: Store) -> None:
    """Empty name, malformed version and a non-hex SHA-256 are reported together."""
    with pytest.raises(InputError) as caught:
        store.publish("", "2023/1", "x", "x", "not-a-hash", "alice")
    assert ["name", "version", "sha256"] == [v.field for v in caught.value.violations]


def _publish_race_in_threads(store: Store, descriptions: list[str]) -> list[PublishResult | ConflictError]:
    barrier = threading.Barrier(len(descriptions))

    def attempt(description: str) -> PublishResult | ConflictError:
        barrier.wait()
        try:
            return publish(store, "2023.1", description=description)
        except ConflictError as exc:
            return exc

    with ThreadPoolExecutor(len(descriptions)) as pool:
        return list(pool.map(attempt, descriptions))


def test_concurrent_publishes_of_the_same_content_create_one_row(store: Store) -> None:
    """Eight threads publishing the same content: exactly one creates it, the others are no-ops."""
    outcomes = _publish_race_in_threads(store, ["cùng nội dung"] * 8)
    assert all(isinstance(o, PublishResult) for o in outcomes)
    assert 1 == sum(1 for o in outcomes if isinstance(o, PublishResult) and o.created)
    assert 1 == len(store.list_rulesets("khoi3"))


def test_concurrent_publishes_of_different_content_have_one_winner(store: Store) -> None:
    """Eight threads publishing different content: one wins, seven get ConflictError, the winner is stored."""
    outcomes = _publish_race_in_threads(store, [f"nội dung {i}" for i in range(8)])
    winners = [o for o in outcomes if isinstance(o, PublishResult)]
    assert 1 == len(winners)
    assert True is winners[0].created
    assert 7 == sum(1 for o in outcomes if isinstance(o, ConflictError))
    assert winners[0].ruleset.sha256 == store.get_ruleset("khoi3", "2023.1").sha256


def publish_in_child(url: str, description: str, barrier: Any, results: Any) -> None:
    """Run in a separate process: connect, wait for the others, publish khoi3@2023.1 once, report."""
    child = Store(url)
    child.ping()
    barrier.wait(timeout=60)
    try:
        results.put(("ok", publish(child, "2023.1", description=description).created))
    except ConflictError:
        results.put(("conflict", None))
    finally:
        child.close()


def test_concurrent_publishes_from_processes_have_one_winner(database_url: str) -> None:
    """Four processes publishing at the same moment: exactly one creates the version."""
    setup = Store(database_url)
    setup.migrate()
    # fork: children start at once instead of importing for seconds each. No pooled connection
    # may cross the fork (a child closing its copy would end the parent's session): close first.
    setup.close()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    children = [
        context.Process(
            target=publish_in_child, args=(database_url, "a" if i < 2 else f"b{i}", barrier, results)
        )
        for i in range(4)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert [0, 0, 0, 0] == [child.exitcode for child in children]
    assert 1 == sum(1 for kind, created in outcomes if kind == "ok" and created)
    assert 1 == len(setup.list_rulesets("khoi3"))
    setup.close()
