"""Tests for service/protogen.py: the committed generated code is current and imports from the package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from service import protogen


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    """Regenerating from protos/ gives exactly the committed service/gen/ (run `make protos` if not)."""
    fresh = tmp_path / "gen"
    protogen.generate(fresh)
    committed = _tree(protogen.GEN)
    generated = _tree(fresh)
    assert sorted(generated) == sorted(committed), "file list differs: run `make protos`"
    stale = [name for name in generated if generated[name] != committed[name]]
    assert [] == stale, f"stale generated files (run `make protos`): {stale}"


def test_rewrite_points_imports_at_the_package() -> None:
    """protoc's top-level imports become service.gen imports; descriptor names stay untouched."""
    text = (
        "from thidua.v1 import values_pb2 as x\n"
        "_builder.Build(DESCRIPTOR, 'thidua.v1.values_pb2', g)\n"
        "b'\\n\\x16thidua/v1/values.proto\\x12\\tthidua.v1'\n"
        "def f(self) -> thidua.v1.values_pb2.Value: ...\n"
    )
    expected = (
        "from service.gen.thidua.v1 import values_pb2 as x\n"
        "_builder.Build(DESCRIPTOR, 'service.gen.thidua.v1.values_pb2', g)\n"
        "b'\\n\\x16thidua/v1/values.proto\\x12\\tthidua.v1'\n"
        "def f(self) -> service.gen.thidua.v1.values_pb2.Value: ...\n"
    )
    assert expected == protogen.rewrite_imports(text)


def test_generated_messages_keep_their_proto_names() -> None:
    """The generated classes register under the proto package thidua.v1 (what reflection serves)."""
    from service.gen.thidua.v1 import evaluation_pb2, values_pb2

    assert "thidua.v1.Value" == values_pb2.Value.DESCRIPTOR.full_name
    assert (
        "thidua.v1.EvaluationService"
        == evaluation_pb2.DESCRIPTOR.services_by_name["EvaluationService"].full_name
    )


def test_generated_code_is_not_ignored_by_git() -> None:
    """service/gen/ is committed: git must not ignore it, or a fresh clone would lack the API."""
    result = subprocess.run(
        ["git", "check-ignore", "-q", str(protogen.GEN / "thidua" / "v1" / "values_pb2.py")],
        cwd=protogen.ROOT,
        check=False,
    )
    assert 1 == result.returncode
