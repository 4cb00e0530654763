"""Tests for dsl.registry: finding rulesets by name, version, date and path."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from dsl import nodes as n
from dsl.errors import InputError, NotFoundError, RulesetError
from dsl.registry import (
    Registry,
    RulesetRef,
    load_resolved_arg,
    looks_like_path,
    parse_ref,
    resolve_ruleset_arg,
    rulesets_dir,
)

REPO = Path(__file__).resolve().parents[2]


def _rules(name: str, version: str, body: str = "", parent: str | None = None) -> str:
    ext = f' extends {parent.split("@")[0]} version "{parent.split("@")[1]}"' if parent else ""
    return f'ruleset {name} version "{version}"{ext} {{\n{body}\n}}\n'


def _write(root: Path, name: str, version: str, text: str) -> Path:
    path = root / name / f"{version}.rules"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A registry with khoi3 2023.1 and 2024.1 (the bundled files) and a few small rulesets."""
    for version in ("2023.1", "2024.1"):
        _write(
            tmp_path, "khoi3", version, (REPO / "rulesets" / "khoi3" / f"{version}.rules").read_text("utf-8")
        )
    _write(tmp_path, "mini", "2023.9", _rules("mini", "2023.9", "effective 2023-01-01 to 2023-12-31"))
    _write(tmp_path, "mini", "2023.10", _rules("mini", "2023.10", "effective 2023-07-01 to 2024-06-30"))
    _write(tmp_path, "mini", "2024.1", _rules("mini", "2024.1", "input x: int", parent="mini@2023.10"))
    (tmp_path / "khoi3" / "cases").mkdir()
    (tmp_path / "notes.txt").write_text("not a ruleset", encoding="utf-8")
    return Registry(tmp_path)


def test_lists_names_and_versions_in_version_order(registry: Registry) -> None:
    """Names are the folders holding .rules files; versions sort numerically."""
    assert ["khoi3", "mini"] == registry.names()
    assert ["2023.9", "2023.10", "2024.1"] == registry.versions("mini")
    assert [] == registry.versions("nope")


def test_latest_is_the_highest_version(registry: Registry) -> None:
    """`latest` is the highest version by dotted-number order, not by text."""
    assert "2024.1" == registry.latest("mini")
    assert "2024.1" == registry.pick_version(RulesetRef("mini", "latest"))
    assert "2024.1" == registry.pick_version(RulesetRef("mini", None))


def test_as_of_picks_the_highest_effective_version(registry: Registry) -> None:
    """A date picks the highest version whose (inherited) effective period contains it."""
    assert "2023.9" == registry.as_of("mini", dt.date(2023, 3, 1))
    # 2024.1 inherits 2023.10's period, so it is effective on this date too, and higher.
    assert "2024.1" == registry.as_of("mini", dt.date(2023, 8, 1))
    assert "2023.1" == registry.as_of("khoi3", dt.date(2023, 12, 31))
    assert "2024.1" == registry.as_of("khoi3", dt.date(2024, 1, 1))


def test_as_of_without_a_match_lists_versions(registry: Registry) -> None:
    """A date no version covers is a NotFoundError naming the versions."""
    with pytest.raises(NotFoundError, match=r"no version of ruleset 'khoi3' is effective on 2030-01-01"):
        registry.as_of("khoi3", dt.date(2030, 1, 1))


def test_unknown_name_and_version_are_explained(registry: Registry) -> None:
    """Missing names suggest a close one; missing versions list the existing ones."""
    with pytest.raises(NotFoundError, match=r"no ruleset named 'khoi' .*did you mean 'khoi3'\?"):
        registry.latest("khoi")
    with pytest.raises(NotFoundError, match=r"has no version '2099.1' .*versions: 2023.1, 2024.1"):
        registry.load("khoi3", "2099.1")
    with pytest.raises(NotFoundError, match="not a valid version"):
        registry.load("khoi3", "../mini/2024.1")


def test_version_and_date_together_are_rejected(registry: Registry) -> None:
    """Giving both a version and an as-of date is an input error, not a silent choice."""
    with pytest.raises(InputError) as info:
        registry.pick_version(RulesetRef("mini", "2023.9"), dt.date(2023, 1, 1))
    assert "as_of" == info.value.violations[0].field


def test_resolve_follows_extends_within_the_registry(registry: Registry) -> None:
    """A registry version with `extends` resolves through its parent."""
    resolved = registry.resolve("khoi3", "2024.1")
    assert ["2024.1", "2023.1"] == [link.version for link in resolved.chain]
    names = {getattr(i, "name", None) for i in resolved.ruleset.items}
    assert {"digital_models", "awaiting_discipline", "tien_tien"} <= names
    assert "initiatives" not in names


def test_file_must_declare_its_path_name_and_version(tmp_path: Path) -> None:
    """A registry file whose declaration disagrees with its path is an error at the header."""
    _write(tmp_path, "x", "2", _rules("x", "1"))
    with pytest.raises(RulesetError) as info:
        Registry(tmp_path).load("x", "2")
    (diag,) = info.value.diagnostics
    assert "registry-mismatch" == diag.code
    assert 'declares ruleset x version "1"' in diag.message


def test_parent_is_found_beside_the_file_first(tmp_path: Path, registry: Registry) -> None:
    """A file outside the registry finds its parent in ../NAME/VERSION.rules before the registry."""
    work = tmp_path / "work"
    _write(work, "mini", "2023.10", _rules("mini", "2023.10", 'description "bên cạnh"'))
    child = _write(work, "cand", "1", _rules("cand", "1", "", parent="mini@2023.10"))
    resolved = registry.resolve_file(child)
    desc = resolved.ruleset.first(n.Description)
    assert isinstance(desc, n.Description)
    assert "bên cạnh" == desc.text
    assert str(work / "mini" / "2023.10.rules") == resolved.chain[1].path


def test_parent_falls_back_to_the_registry(tmp_path: Path, registry: Registry) -> None:
    """A file whose parent is not beside it finds the parent in the registry."""
    child = tmp_path / "elsewhere" / "cand.rules"
    child.parent.mkdir()
    child.write_text(_rules("cand", "1", "", parent="mini@2023.9"), encoding="utf-8")
    assert "2023.9" == registry.resolve_file(child).chain[1].version


def test_missing_parent_names_the_registry(tmp_path: Path, registry: Registry) -> None:
    """A parent found nowhere is a diagnostic at `extends` saying where it looked."""
    child = tmp_path / "cand.rules"
    child.write_text(_rules("cand", "1", "", parent="mini@1999.1"), encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        registry.resolve_file(child)
    (diag,) = info.value.diagnostics
    assert "missing-parent" == diag.code
    assert "has no version '1999.1'" in diag.message


def test_parse_ref_forms() -> None:
    """NAME, NAME@VERSION and NAME@latest are references; other text is not."""
    assert RulesetRef("khoi3", None) == parse_ref("khoi3")
    assert RulesetRef("khoi3", "2023.1") == parse_ref("khoi3@2023.1")
    assert RulesetRef("khối_ba", "latest") == parse_ref("khối_ba@latest")
    assert None is parse_ref("khoi3@2023@1")
    assert None is parse_ref("9lives")


def test_paths_are_told_from_references() -> None:
    """Arguments with a slash or a .rules suffix are paths; bare references are not."""
    assert looks_like_path("rulesets/khoi3/2023.1.rules")
    assert looks_like_path("x.rules")
    assert not looks_like_path("khoi3@2023.1")


def test_load_resolved_arg_accepts_every_form(registry: Registry, tmp_path: Path) -> None:
    """A path, NAME@VERSION, NAME@latest and NAME with a date all resolve."""
    path = str(tmp_path / "khoi3" / "2024.1.rules")
    assert "2024.1" == load_resolved_arg(path, registry=registry).ruleset.version
    assert "2023.1" == load_resolved_arg("khoi3@2023.1", registry=registry).ruleset.version
    assert "2024.1" == load_resolved_arg("khoi3@latest", registry=registry).ruleset.version
    assert (
        "2023.1" == load_resolved_arg("khoi3", registry=registry, as_of=dt.date(2023, 6, 1)).ruleset.version
    )


def test_load_resolved_arg_errors(registry: Registry, tmp_path: Path) -> None:
    """A date with a path, a missing file and a malformed reference are clear errors."""
    with pytest.raises(InputError):
        load_resolved_arg(
            str(tmp_path / "khoi3" / "2024.1.rules"), registry=registry, as_of=dt.date(2024, 1, 1)
        )
    with pytest.raises(NotFoundError, match="no such ruleset file"):
        load_resolved_arg(str(tmp_path / "none.rules"), registry=registry)
    with pytest.raises(NotFoundError, match="neither a ruleset file nor a reference"):
        load_resolved_arg("khoi3@@", registry=registry)


def test_rulesets_dir_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit folder wins over THIDUA_RULESETS, which wins over ./rulesets."""
    monkeypatch.delenv("THIDUA_RULESETS", raising=False)
    assert Path("rulesets") == rulesets_dir()
    monkeypatch.setenv("THIDUA_RULESETS", "/srv/rules")
    assert Path("/srv/rules") == rulesets_dir()
    assert Path("mine") == rulesets_dir("mine")


def test_cache_sees_edited_files(tmp_path: Path) -> None:
    """An edited file is parsed again (the cache is keyed by modification time)."""
    path = _write(tmp_path, "x", "1", _rules("x", "1", 'description "một"'))
    reg = Registry(tmp_path)
    assert "một" == reg.load("x", "1").ruleset.first(n.Description).text  # type: ignore[union-attr]
    path.write_text(_rules("x", "1", 'description "hai"'), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert "hai" == reg.load("x", "1").ruleset.first(n.Description).text  # type: ignore[union-attr]


def test_bundled_registry_resolves() -> None:
    """The repository's own rulesets/ folder resolves khoi3 2024.1 through 2023.1."""
    resolved = Registry(REPO / "rulesets").resolve("khoi3", "2024.1")
    assert ("khoi3", "2024.1") == (resolved.ruleset.name, resolved.ruleset.version)


def test_list_entries(registry: Registry, tmp_path: Path) -> None:
    """list() gives every version with its identity, period and parent; a broken file carries its error."""
    _write(tmp_path, "broken", "1", 'ruleset broken version "1" {')
    entries = {(e.name, e.version): e for e in registry.list()}
    k24 = entries[("khoi3", "2024.1")]
    assert "khoi3@2023.1" == k24.parent
    assert (dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == k24.effective
    assert k24.sha256 is not None and 64 == len(k24.sha256)
    assert None is k24.error
    broken = entries[("broken", "1")]
    assert None is broken.sha256
    assert broken.error is not None


def test_get_compiles_and_reuses(registry: Registry) -> None:
    """get() compiles a version once and returns the same object until a file changes."""
    first = registry.get("khoi3", "2024.1")
    assert ("khoi3", "2024.1") == (first.name, first.version)
    assert first is registry.get("khoi3", "2024.1")
    assert first is registry.get("khoi3", None)
    assert "2023.1" == registry.get("khoi3", as_of=dt.date(2023, 5, 5)).version


def test_resolve_ruleset_arg_compiles_every_form(registry: Registry, tmp_path: Path) -> None:
    """The one RULESET-argument function compiles paths and references to the same identity."""
    by_path = resolve_ruleset_arg(str(tmp_path / "khoi3" / "2024.1.rules"), registry=registry)
    by_ref = resolve_ruleset_arg("khoi3@2024.1", rulesets_dir=tmp_path)
    latest = resolve_ruleset_arg("khoi3", registry=registry)
    dated = resolve_ruleset_arg("khoi3", registry=registry, as_of=dt.date(2023, 1, 1))
    assert by_path.sha256 == by_ref.sha256 == latest.sha256
    assert "2023.1" == dated.version
    assert by_path.sha256 != dated.sha256


def test_resolve_ruleset_arg_reports_ruleset_errors(tmp_path: Path) -> None:
    """A ruleset that does not check raises RulesetError with its diagnostics."""
    _write(tmp_path, "bad", "1", _rules("bad", "1", "let x = nope"))
    with pytest.raises(RulesetError) as info:
        resolve_ruleset_arg("bad@1", rulesets_dir=tmp_path)
    assert any("nope" in d.message for d in info.value.diagnostics)


def test_compile_ruleset_resolves_extends_through_a_registry(registry: Registry) -> None:
    """dsl.api.compile_ruleset(text, registry=...) finds the parent of a candidate given as text."""
    from dsl.api import compile_ruleset

    text = _rules("cand", "1", "", parent="khoi3@2024.1")
    compiled = compile_ruleset(text, "cand.rules", registry=registry)
    assert {"digital_models", "awaiting_discipline"} <= {i.name for i in compiled.ruleset.inputs}
    with pytest.raises(RulesetError):
        compile_ruleset(text, "cand.rules")
