"""service.db.importer: the rulesets folder published into the database, idempotent by hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsl.api import compile_ruleset, load_ruleset
from service.db import Store
from service.db.importer import import_rulesets

BUNDLED = Path(__file__).resolve().parents[2] / "rulesets"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the bundled rulesets folder (ruleset files only) that a test may change."""
    target = tmp_path / "rulesets"
    for path in BUNDLED.glob("*/*.rules"):
        (target / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.parent.name / path.name)
    return target


def test_first_import_publishes_every_version(store: Store, folder: Path) -> None:
    """Every <name>/<version>.rules of the folder becomes a published version."""
    report = import_rulesets(store, folder)
    assert (["khoi3@2023.1", "khoi3@2024.1"], [], {}) == (report.published, report.unchanged, report.failed)
    assert ["published", "published"] == [r.status for r in store.list_rulesets("khoi3")]


def test_second_import_changes_nothing(store: Store, folder: Path) -> None:
    """Importing the same folder again is a no-op reported as unchanged."""
    import_rulesets(store, folder)
    before = store.list_rulesets()
    report = import_rulesets(store, folder)
    assert ([], ["khoi3@2023.1", "khoi3@2024.1"]) == (report.published, report.unchanged)
    assert before == store.list_rulesets()


def test_stored_identity_is_the_one_results_carry(store: Store, folder: Path) -> None:
    """The stored SHA-256 equals the compiled ruleset's, and the resolved text compiles to the same identity."""
    import_rulesets(store, folder)
    for version in ("2023.1", "2024.1"):
        stored = store.get_ruleset("khoi3", version)
        assert load_ruleset(folder / "khoi3" / f"{version}.rules").sha256 == stored.sha256
        assert stored.sha256 == compile_ruleset(stored.resolved_source, f"<stored {stored.ref}>").sha256


def test_layout_only_change_is_still_unchanged(store: Store, folder: Path) -> None:
    """A file re-laid-out with extra comments has the same identity, so nothing is published."""
    import_rulesets(store, folder)
    path = folder / "khoi3" / "2023.1.rules"
    path.write_text(
        "# chú thích mới\n" + path.read_text(encoding="utf-8").replace("\n", "\n\n"), encoding="utf-8"
    )
    assert ["khoi3@2023.1", "khoi3@2024.1"] == import_rulesets(store, folder).unchanged


def test_changed_content_of_a_published_version_is_refused(store: Store, folder: Path) -> None:
    """A parent whose meaning changed conflicts, and so does its child (2024.1 extends 2023.1); both stay."""
    import_rulesets(store, folder)
    stored = store.get_ruleset("khoi3", "2023.1")
    path = folder / "khoi3" / "2023.1.rules"
    path.write_text(path.read_text(encoding="utf-8").replace("rounding 2 half_up", "rounding 3 half_up"))
    report = import_rulesets(store, folder)
    assert ["khoi3@2023.1", "khoi3@2024.1"] == list(report.failed)
    assert "already published with other content" in report.failed["khoi3@2023.1"]
    assert stored == store.get_ruleset("khoi3", "2023.1")


def test_a_broken_file_does_not_stop_the_others(store: Store, folder: Path) -> None:
    """A file that does not check is reported with its diagnostic; the other versions are imported."""
    (folder / "khoi3" / "2022.1.rules").write_text('ruleset khoi3 version "2022.1" {\n  score = nothing\n}\n')
    report = import_rulesets(store, folder)
    assert ["khoi3@2023.1", "khoi3@2024.1"] == report.published
    assert ["khoi3@2022.1"] == list(report.failed)
    assert "2022.1.rules:2" in report.failed["khoi3@2022.1"]


def test_missing_folder_is_reported(store: Store, tmp_path: Path) -> None:
    """A folder that does not exist is one failure in the report, not an exception."""
    report = import_rulesets(store, tmp_path / "nowhere")
    assert [str(tmp_path / "nowhere")] == list(report.failed)
