"""Tests for service/servicers/common.py: resolving references, never serving a stale ruleset."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from dsl.errors import InputError, NotFoundError
from service.config import Limits
from service.errors import ServiceError
from service.gen.thidua.v1 import values_pb2 as vals
from service.servicers.common import RulesetSource
from tests.service.grpc_helpers import make_rulesets


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_rulesets(tmp_path / "rulesets")


def _bump(path: Path) -> None:
    # Some file systems keep mtimes coarse: make sure an edit is visible as one.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_same_reference_reuses_the_compiled_ruleset(folder: Path) -> None:
    """A second lookup of an unchanged file returns the same compiled object."""
    source = RulesetSource(folder, Limits())
    ref = vals.RulesetRef(name="divz", version="1")
    assert source.compiled(ref) is source.compiled(ref)


def test_an_edited_file_is_recompiled(folder: Path) -> None:
    """Editing a ruleset file changes what the next call uses: the cache never serves stale rules."""
    source = RulesetSource(folder, Limits())
    ref = vals.RulesetRef(name="divz", version="1")
    before = source.compiled(ref)
    path = folder / "divz" / "1.rules"
    path.write_text(path.read_text(encoding="utf-8").replace("10 * met", "3 * met"), encoding="utf-8")
    _bump(path)
    after = source.compiled(ref)
    assert before.sha256 != after.sha256


def test_within_the_recheck_interval_files_are_not_looked_at(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a recheck interval, an edit is seen only once the interval has passed since the last check."""
    clock = [1000.0]
    monkeypatch.setattr("service.servicers.common.time.monotonic", lambda: clock[0])
    source = RulesetSource(folder, Limits(), recheck_seconds=1.0)
    ref = vals.RulesetRef(name="divz", version="1")
    before = source.compiled(ref)
    path = folder / "divz" / "1.rules"
    path.write_text(path.read_text(encoding="utf-8").replace("10 * met", "3 * met"), encoding="utf-8")
    _bump(path)
    clock[0] += 0.9
    assert source.compiled(ref) is before
    clock[0] += 0.2
    assert source.compiled(ref).sha256 != before.sha256


def test_a_recent_check_postpones_the_next(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that finds the files unchanged starts a new interval; stats happen once per interval."""
    clock = [1000.0]
    monkeypatch.setattr("service.servicers.common.time.monotonic", lambda: clock[0])
    source = RulesetSource(folder, Limits(), recheck_seconds=1.0)
    ref = vals.RulesetRef(name="divz", version="1")
    source.compiled(ref)
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: str) -> os.stat_result:
        stats.append(str(path))
        return real_stat(path)

    monkeypatch.setattr("service.servicers.common.os.stat", counting_stat)
    for _ in range(5):
        clock[0] += 0.3
        source.compiled(ref)
    # t = 0.3, 0.6, 0.9: trusted; 1.2: checked (a new interval); 1.5: trusted
    assert 1 == len(stats)


def test_a_new_version_becomes_latest(folder: Path) -> None:
    """Adding a version file changes what an empty version resolves to."""
    source = RulesetSource(folder, Limits())
    latest = vals.RulesetRef(name="divz")
    assert "2" == source.compiled(latest).version
    text = (folder / "divz" / "2.rules").read_text(encoding="utf-8").replace('version "2"', 'version "10"')
    (folder / "divz" / "10.rules").write_text(text, encoding="utf-8")
    _bump(folder / "divz")
    assert "10" == source.compiled(latest).version


def test_a_removed_file_is_not_found(folder: Path) -> None:
    """A version deleted from the folder is NOT_FOUND on the next call, not served from memory."""
    source = RulesetSource(folder, Limits())
    ref = vals.RulesetRef(name="divz", version="1")
    source.compiled(ref)
    (folder / "divz" / "1.rules").unlink()
    with pytest.raises(NotFoundError):
        source.compiled(ref)


def test_a_broken_file_is_failed_precondition(folder: Path) -> None:
    """A folder file that does not check raises a FAILED_PRECONDITION service error."""
    (folder / "divz" / "1.rules").write_text('ruleset divz version "1" { input a: int = }', encoding="utf-8")
    with pytest.raises(ServiceError) as info:
        RulesetSource(folder, Limits()).compiled(vals.RulesetRef(name="divz", version="1"))
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code


def test_a_name_is_required(folder: Path) -> None:
    """An empty ruleset name is an input error naming the field."""
    with pytest.raises(InputError) as info:
        RulesetSource(folder, Limits()).compiled(vals.RulesetRef(), "base")
    assert ["base.name"] == [v.field for v in info.value.violations]


def test_a_version_the_folder_holds_does_not_ask_the_database(folder: Path) -> None:
    """Once the folder answered a NAME@VERSION, later calls skip the published-rulesets lookup; "latest" still asks."""
    asked: list[tuple[str, str]] = []

    class Published:
        def lookup(self, name: str, version: str, registry: object) -> None:
            asked.append((name, version))

    source = RulesetSource(folder, Limits(), recheck_seconds=60.0)
    source.published = Published()  # type: ignore[assignment]
    for _ in range(3):
        source.compiled(vals.RulesetRef(name="divz", version="1"))
    assert [("divz", "1")] == asked  # only before the folder's answer was known
    for _ in range(2):
        source.compiled(vals.RulesetRef(name="divz"))
    assert [("divz", "1"), ("divz", ""), ("divz", "")] == asked
