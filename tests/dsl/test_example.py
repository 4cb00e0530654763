"""Acceptance: `thidua evaluate` on the bundled reference example decides what the bloc announced.

The expected outcome (tests/dsl/golden/bloc/khoi3-2023-expected.json) is a
copy of the shared reference; it is compared the way the shared
``compare.py`` compares: every field of the expected must be in the actual
output with the same value, lists compared as multisets, and the ranking
(units sorted by rank, then name) compared exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dsl.bloc import evaluate_bloc
from dsl.case import load_case
from dsl.registry import load_resolved_arg
from service import cli

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rulesets" / "khoi3" / "2023.1.rules"
CASE = ROOT / "rulesets" / "khoi3" / "cases" / "2023.json"
EXPECTED = Path(__file__).resolve().parent / "golden" / "bloc" / "khoi3-2023-expected.json"


def mismatch(exp: Any, act: Any, path: str = "$") -> str | None:
    """compare.py's rule: None when every field of ``exp`` is in ``act`` with the same value."""
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            return f"{path}: expected an object, got {act!r}"
        for k, v in exp.items():
            if k not in act:
                return f"{path}.{k}: missing"
            why = mismatch(v, act[k], f"{path}.{k}")
            if why:
                return why
        return None
    if isinstance(exp, list) and isinstance(act, list):
        return (
            None if sorted(map(str, exp)) == sorted(map(str, act)) else f"{path}: expected {exp}, got {act}"
        )
    return None if str(exp) == str(act) else f"{path}: expected {exp!r}, got {act!r}"


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """The whole of compare.py: units keyed by name, ranking by (rank, unit), then field by field."""
    actual = dict(actual)
    units = actual["units"]
    actual["units"] = {u["unit"]: u for u in units}
    ranking = [u["unit"] for u in sorted(units, key=lambda u: (u.get("rank", 0), u.get("unit")))]
    if ranking != expected["ranking"]:
        return f"ranking: expected {expected['ranking']}, got {ranking}"
    return mismatch({k: v for k, v in expected.items() if k != "ranking"}, actual)


def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return data


def test_reference_example_in_process() -> None:
    """evaluate_bloc on the bundled ruleset and case reproduces the announced outcome exactly."""
    from dsl.api import compile_checked

    resolved = load_resolved_arg(str(RULES))
    path = resolved.chain[0].path
    compiled = compile_checked(
        resolved.ruleset, source=resolved.sources[path], path=path, sources=resolved.sources
    )
    result = evaluate_bloc(compiled, load_case(CASE.read_text(encoding="utf-8")))
    # Through JSON text, as a client would read it.
    actual = json.loads(json.dumps(result.to_json()))
    assert compare(expected(), actual) is None
    assert ["tham_muu", "tccb", "ctd_ctct", "ubkt", "hau_can", "thanh_tra"] == [
        u["unit"] for u in actual["units"]
    ]


def test_reference_example_through_cli_main(capsys: pytest.CaptureFixture[str]) -> None:
    """`thidua evaluate RULES CASE --format json` (in process) prints output that matches."""
    assert 0 == cli.main(["evaluate", str(RULES), str(CASE), "--format", "json"])
    assert compare(expected(), json.loads(capsys.readouterr().out)) is None


def test_case_ruleset_field_used_when_no_ruleset_argument(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only CASE.json, the case's own "ruleset": "khoi3@2023.1" is found in the registry."""
    monkeypatch.setenv("THIDUA_RULESETS", str(ROOT / "rulesets"))
    assert 0 == cli.main(["evaluate", str(CASE), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert {"name": "khoi3", "version": "2023.1"} == {k: out["ruleset"][k] for k in ("name", "version")}
    assert compare(expected(), out) is None


def test_reference_example_through_the_installed_cli() -> None:
    """The real `thidua` executable, run as a subprocess, prints matching JSON."""
    exe = Path(sys.executable).parent / "thidua"
    assert exe.exists(), f"the thidua entry point is not installed beside {sys.executable}"
    proc = subprocess.run(
        [str(exe), "evaluate", str(RULES), str(CASE), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    assert 0 == proc.returncode, proc.stderr
    assert compare(expected(), json.loads(proc.stdout)) is None


def test_compare_detects_a_difference() -> None:
    """The comparison is not vacuous: a changed award or ranking is reported."""
    good = json.loads(json.dumps(expected()))
    actual = {
        "units": [{"unit": u, **good["units"][u]} for u in good["ranking"]],
        "titles": good["titles"],
        "rotation": dict(good["rotation"]),
    }
    assert compare(expected(), json.loads(json.dumps(actual))) is None
    actual["rotation"]["deputy"] = "tccb"
    assert "$.rotation.deputy" in (compare(expected(), actual) or "")
    actual["rotation"]["deputy"] = "tham_muu"
    actual["units"][0]["rank"] = 3
    assert "ranking" in (compare(expected(), actual) or "")


def test_bundled_files_are_the_reference_unchanged() -> None:
    """The bundled ruleset, case and expected outcome are byte-for-byte the shared reference (when present)."""
    shared = Path("/work/shared/examples")
    pairs = [
        (RULES, shared / "khoi3-2023.1.rules"),
        (CASE, shared / "khoi3-2023-case.json"),
        (EXPECTED, shared / "khoi3-2023-expected.json"),
    ]
    present = [(ours, ref) for ours, ref in pairs if ref.exists()]
    for ours, ref in present:
        assert ref.read_bytes() == ours.read_bytes(), f"{ours} differs from {ref}"
