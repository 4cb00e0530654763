"""RulesetService against a real server on a loopback port: list, get, validate, publish, compare."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from service.config import Limits
from service.convert import case_from_json
from service.gen.thidua.v1 import evaluation_pb2 as ev
from service.gen.thidua.v1 import rulesets_pb2 as rs
from service.gen.thidua.v1 import values_pb2 as vals
from tests.service.grpc_helpers import KHOI3, ROOT, Client, load_case, make_rulesets, serving

BROKEN = (
    'ruleset broken version "1" {\n  input a: int\n  group g "G" max 10 { criterion c "C" max 10 = b }\n}\n'
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_rulesets(tmp_path_factory.mktemp("rulesets"))
    (root / "broken").mkdir()
    (root / "broken" / "1.rules").write_text(BROKEN, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def client(folder: Path) -> Iterator[Client]:
    with serving(folder, Limits(max_source_bytes=20_000, max_nesting_depth=20, max_cases=3)) as c:
        yield c


def test_list_names_every_version_with_its_hash(client: Client) -> None:
    """ListRulesets lists each (name, version) sorted, marks the latest, and lists broken files as invalid."""
    listed = client.rulesets.ListRulesets(rs.ListRulesetsRequest()).rulesets
    assert [("aggr", "1"), ("broken", "1"), ("divz", "1"), ("divz", "2"), ("khoi3", "2023.1")] == [
        (r.ruleset.name, r.ruleset.version) for r in listed
    ]
    assert [True, True, False, True, True] == [r.latest for r in listed]
    assert ["published", "invalid", "published", "published", "published"] == [r.status for r in listed]
    khoi3 = listed[-1]
    assert ("2023-01-01", "2023-12-31") == (khoi3.effective_from, khoi3.effective_to)
    assert khoi3.description.startswith("Khung tiêu chí")
    assert "unknown name 'b'" in listed[1].description


def test_list_hash_is_the_hash_results_name(client: Client) -> None:
    """The SHA-256 listed is the one every result names."""
    listed = client.rulesets.ListRulesets(rs.ListRulesetsRequest(name="divz")).rulesets
    got = client.rulesets.GetRuleset(rs.GetRulesetRequest(ruleset=vals.RulesetRef(name="divz", version="1")))
    assert listed[0].ruleset == got.info.ruleset


def test_list_unknown_name_is_not_found(client: Client) -> None:
    """Filtering by a name with no versions answers NOT_FOUND."""
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.ListRulesets(rs.ListRulesetsRequest(name="nope"))
    assert grpc.StatusCode.NOT_FOUND == info.value.code()


def test_get_returns_the_source_as_published(client: Client, folder: Path) -> None:
    """GetRuleset returns the file's text and its facts."""
    got = client.rulesets.GetRuleset(rs.GetRulesetRequest(ruleset=KHOI3))
    assert (folder / "khoi3" / "2023.1.rules").read_text(encoding="utf-8") == got.source
    assert ("khoi3", "2023.1", True) == (got.info.ruleset.name, got.info.ruleset.version, got.info.latest)


def test_get_unknown_version_is_not_found(client: Client) -> None:
    """An unknown version answers NOT_FOUND with the versions that exist."""
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.GetRuleset(rs.GetRulesetRequest(ruleset=vals.RulesetRef(name="divz", version="9")))
    assert grpc.StatusCode.NOT_FOUND == info.value.code()
    assert "1, 2" in (info.value.details() or "")


def test_a_broken_file_on_the_server_is_failed_precondition(client: Client) -> None:
    """Using a ruleset file that does not check is the server's problem: FAILED_PRECONDITION."""
    with pytest.raises(grpc.RpcError) as info:
        client.evaluation.Score(ev.ScoreRequest(ruleset=vals.RulesetRef(name="broken")))
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "unknown name 'b'" in (info.value.details() or "")


def test_no_answer_shows_where_the_rulesets_folder_is(client: Client, folder: Path) -> None:
    """Errors and diagnostics name the server's ruleset files relative to its folder, never its absolute path."""
    seen: list[str] = []
    for request in (
        ev.ScoreRequest(ruleset=vals.RulesetRef(name="broken")),  # a file that does not check
        ev.ScoreRequest(ruleset=vals.RulesetRef(name="nope")),  # no such ruleset
        ev.ScoreRequest(
            ruleset=vals.RulesetRef(name="divz", version="1"),  # division by zero
            inputs={"assigned": vals.Value(integer=0), "met": vals.Value(integer=1)},
        ),
    ):
        with pytest.raises(grpc.RpcError) as info:
            client.evaluation.Score(request)
        seen.append(info.value.details() or "")
    answer = client.rulesets.ValidateRuleset(
        rs.ValidateRulesetRequest(source='ruleset child version "1" extends broken version "1" {\n}\n')
    )
    seen += [f"{d.file} {d.message} {d.rendered}" for d in answer.diagnostics]
    assert "broken/1.rules:3:" in seen[0]
    assert "in the rulesets folder" in seen[1]
    assert "at divz/1.rules:" in seen[2]
    assert any("broken/1.rules" in text for text in seen[3:])
    for text in seen:
        assert str(folder) not in text and str(folder.resolve()) not in text, text


def test_validate_a_valid_ruleset_returns_warnings_and_identity(client: Client, folder: Path) -> None:
    """A valid source is valid, with its warnings and the hash it would have."""
    text = (folder / "divz" / "1.rules").read_text(encoding="utf-8")
    answer = client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source=text, path="divz.rules"))
    assert answer.valid
    assert ("divz", "1") == (answer.ruleset.name, answer.ruleset.version)
    (warning,) = answer.diagnostics
    assert vals.SEVERITY_WARNING == warning.severity
    assert "divz.rules" == warning.file
    assert "includes 0" in warning.message
    assert "^" in warning.rendered


def test_validate_reports_every_error_with_position_and_hint(client: Client) -> None:
    """An invalid source is a normal answer listing each diagnostic as SPEC §1.10 renders it."""
    text = BROKEN.replace("= b }", "= a + bb + aa }")
    answer = client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source=text))
    assert not answer.valid
    assert 2 <= len(answer.diagnostics)
    first = answer.diagnostics[0]
    assert ("<request>", 3, vals.SEVERITY_ERROR) == (first.file, first.line, first.severity)
    assert "unknown name 'bb'" in first.message
    assert first.rendered.startswith(f"<request>:3:{first.column}: error: unknown name 'bb'")
    assert first.rendered.splitlines()[1].strip().startswith("group g")


def test_validate_columns_count_characters(client: Client) -> None:
    """Columns after Vietnamese text count characters, not bytes."""
    text = BROKEN.replace('criterion c "C" max 10 = b', 'criterion c "Điểm thưởng" max 10 = b')
    (diag,) = client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source=text)).diagnostics
    line = text.splitlines()[2]
    assert line.index("= b") + 3 == diag.column


def test_validate_syntax_error(client: Client) -> None:
    """A syntax error is a diagnostic too."""
    answer = client.rulesets.ValidateRuleset(
        rs.ValidateRulesetRequest(source='ruleset x version "1" { group g "x" max { }')
    )
    assert not answer.valid
    assert answer.diagnostics[0].message


def test_validate_missing_parent_is_a_diagnostic(client: Client) -> None:
    """A source extending a ruleset the folder lacks is invalid, not an error status."""
    text = 'ruleset k version "2" extends nothere version "1" {\n}\n'
    answer = client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source=text))
    assert not answer.valid
    assert "nothere" in answer.diagnostics[0].message


def test_validate_over_size_limit_names_the_limit(client: Client) -> None:
    """A source over max_source_bytes is INVALID_ARGUMENT naming the limit."""
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source="#" * 20_001))
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert "max_source_bytes" in (info.value.details() or "")


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 40 + "a" + ")" * 40,
        "- " * 400 + "a",
        "not " * 400 + "true",
        "if true then " * 300 + "1" + " else 1" * 300,
    ],
)
def test_validate_deep_nesting_names_the_limit(client: Client, expr: str) -> None:
    """Deeply nested expressions are refused by max_nesting_depth, never a crash."""
    text = BROKEN.replace("= b", f"= {expr}")
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.ValidateRuleset(rs.ValidateRulesetRequest(source=text))
    assert grpc.StatusCode.INVALID_ARGUMENT == info.value.code()
    assert "max_nesting_depth" in (info.value.details() or "")


def test_publish_without_a_database_is_failed_precondition(client: Client) -> None:
    """A server on the rulesets folder only refuses to publish, saying it needs a database."""
    request = rs.PublishRulesetRequest(name="divz", version="3", source=BROKEN, author="tester")
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.PublishRuleset(request)
    assert grpc.StatusCode.FAILED_PRECONDITION == info.value.code()
    assert "database" in (info.value.details() or "")


# ------------------------------------------------------------------ CompareRulesets


def _divz_case(*pairs: tuple[str, int, int]) -> ev.BlocCase:
    return case_from_json(
        {
            "members": [u for u, _, _ in pairs],
            "submissions": [{"unit": u, "inputs": {"assigned": a, "met": m}} for u, a, m in pairs],
        }
    )


def test_compare_a_candidate_text_on_the_bundled_case(client: Client) -> None:
    """khoi3 2024.1 as candidate text against 2023.1: rule changes, unit moves, summary and markdown."""
    text = (ROOT / "rulesets" / "khoi3" / "2024.1.rules").read_text(encoding="utf-8")
    request = rs.CompareRulesetsRequest(
        base=KHOI3, candidate_source=text, cases=[case_from_json(load_case())]
    )
    answer = client.rulesets.CompareRulesets(request)
    assert ("2023.1", "2024.1") == (answer.base.version, answer.candidate.version)
    assert any(c.kind == "title" and c.name == "tien_tien" and c.change == "changed" for c in answer.changes)
    tham_muu = next(u for u in answer.units if u.unit == "tham_muu")
    assert ("102.88", 1) == (tham_muu.score_before, tham_muu.rank_before)
    assert tham_muu.score_after
    assert 6 == answer.summary.units
    assert answer.markdown.startswith("## Ruleset diff: khoi3 2023.1 → khoi3 2024.1")


def test_compare_two_published_versions(client: Client) -> None:
    """divz 1 → 2 halves every rate: each unit's score and criterion move; levels can drop."""
    request = rs.CompareRulesetsRequest(
        base=vals.RulesetRef(name="divz", version="1"),
        candidate_ref=vals.RulesetRef(name="divz", version="2"),
        cases=[_divz_case(("a", 1, 1), ("b", 4, 1))],
    )
    answer = client.rulesets.CompareRulesets(request)
    assert [("a", "10.00", "5.00", "good", "good"), ("b", "2.50", "1.25", "ok", "ok")] == [
        (u.unit, u.score_before, u.score_after, u.level_before, u.level_after) for u in answer.units
    ]
    assert [("rate", "10.00", "5.00")] == [(c.name, c.before, c.after) for c in answer.units[0].criteria]
    assert (2, 2) == (answer.summary.units, answer.summary.changed)


def test_compare_reports_an_evaluation_error_as_a_note(client: Client) -> None:
    """A case one version cannot decide (division by zero) is noted per side, not a failed call."""
    request = rs.CompareRulesetsRequest(
        base=vals.RulesetRef(name="divz", version="1"),
        candidate_ref=vals.RulesetRef(name="divz", version="2"),
        cases=[_divz_case(("a", 0, 1), ("b", 1, 1))],
    )
    answer = client.rulesets.CompareRulesets(request)
    assert 2 == len(answer.notes)
    assert answer.notes[0].startswith("cases[0]: with the base ruleset: unit a, criterion 'rate'")
    assert answer.notes[1].startswith("cases[0]: with the candidate ruleset: unit a, criterion 'rate'")
    assert all("division by zero" in note for note in answer.notes)


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (rs.CompareRulesetsRequest(base=KHOI3), grpc.StatusCode.INVALID_ARGUMENT, "candidate"),
        (
            rs.CompareRulesetsRequest(base=KHOI3, candidate_ref=vals.RulesetRef(name="khoi3", version="9")),
            grpc.StatusCode.NOT_FOUND,
            "9",
        ),
        (
            rs.CompareRulesetsRequest(base=vals.RulesetRef(name="nope"), candidate_source=BROKEN),
            grpc.StatusCode.NOT_FOUND,
            "nope",
        ),
        (
            rs.CompareRulesetsRequest(base=KHOI3, candidate_source=BROKEN),
            grpc.StatusCode.INVALID_ARGUMENT,
            "unknown name 'b'",
        ),
        (
            rs.CompareRulesetsRequest(
                base=KHOI3, candidate_ref=KHOI3, stored_cases=rs.StoredCases(bloc="k", period="1")
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "database",
        ),
        (
            rs.CompareRulesetsRequest(base=KHOI3, candidate_ref=KHOI3, cases=[ev.BlocCase()] * 4),
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_cases",
        ),
    ],
)
def test_compare_errors(
    client: Client, request_: rs.CompareRulesetsRequest, code: grpc.StatusCode, words: str
) -> None:
    """Missing candidate, unknown versions, an invalid candidate text, stored cases and too many cases."""
    with pytest.raises(grpc.RpcError) as info:
        client.rulesets.CompareRulesets(request_)
    assert code == info.value.code()
    assert words in (info.value.details() or "")


def test_public_text_leaves_other_paths_and_the_root_alone(tmp_path: Path) -> None:
    """Only registered folders are hidden; the file system's root is never taken for one."""
    from service.errors import hide_folder, public_text

    hide_folder(Path("/"))
    hide_folder(tmp_path / "private")
    text = f"at {tmp_path}/private/k/1.rules:2:3 in {tmp_path}/private; see /etc/x and {tmp_path}/other"
    assert f"at k/1.rules:2:3 in the rulesets folder; see /etc/x and {tmp_path}/other" == public_text(text)
