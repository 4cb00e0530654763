"""Tests for dsl.format_comments: every comment is kept, next to the item it belongs to, and settles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.format import format_checked, format_source
from dsl.nodes import SourceFile
from dsl.parser import parse
from tests.dsl import strategies
from tests.dsl.golden_runner import GOLDEN
from tests.dsl.test_format import body_of, fmt


def test_own_line_comment_stays_before_its_item_at_its_indentation() -> None:
    """A comment on its own line moves with the declaration that follows, indented like it."""
    text = fmt('group g "G" max 1 {\n# about c\n        criterion c "C" = 1 }')
    assert '  group g "G" max 1 {\n    # about c\n    criterion c "C" = 1\n  }' == body_of(text)


def test_trailing_comment_stays_at_the_end_of_its_item() -> None:
    """A comment after code stays at the end of that item's line, two spaces after it."""
    text = fmt('input a: int  "A"    # why\nlet x = 1 # because')
    assert '  input a: int  "A"  # why\n\n  let x = 1  # because' == body_of(text)


def test_comment_inside_a_multiline_expression_moves_before_the_item() -> None:
    """Comments inside an expression that printing joins onto one line go before the item."""
    text = fmt("let x = a + # first part\n  # middle\n  b # last part")
    assert "  # first part\n  # middle\n  let x = a + b  # last part" == body_of(text)


def test_comments_in_a_table_stay_with_their_rows() -> None:
    """Comments before and after table rows stay next to those rows."""
    text = fmt("let x =\n table y {\n # top\n when 1 then 2 # one\n # bottom\n }")
    expected = "  let x =\n    table y {\n      # top\n      when 1 then 2  # one\n      # bottom\n    }"
    assert expected == body_of(text)


def test_comment_before_a_closing_brace_stays_inside_the_block() -> None:
    """A comment after the last item of a block stays in the block."""
    text = fmt('classify {\n level a "A" otherwise\n # no more levels\n}\n# end of ruleset')
    expected = '  classify {\n    level a "A" otherwise\n    # no more levels\n  }\n  # end of ruleset'
    assert expected == body_of(text)


def test_hash_inside_a_string_is_not_a_comment() -> None:
    """A `#` inside a label is text, not a comment, and is printed once."""
    assert '  description "Khối # 3"  # real' == body_of(fmt('description "Khối # 3" # real'))


REFERENCE = (GOLDEN / "format" / "khoi3_reference.rules").read_text(encoding="utf-8")
REFERENCE_LINES = REFERENCE.split("\n")


@settings(max_examples=10)  # each example parses the reference ruleset six times
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(REFERENCE_LINES) - 1),
            st.booleans(),
            st.text('abc đ#"{}', max_size=8),
        ),
        max_size=6,
    )
)
def test_comments_anywhere_are_kept_and_formatting_settles(edits: list[tuple[int, bool, str]]) -> None:
    """Comments added on any line (own-line or trailing) are all kept, and a second format changes nothing."""
    lines = list(REFERENCE_LINES)
    for i, (at, trailing, text) in enumerate(edits):
        comment = f"# c{i} {text}".rstrip()
        if trailing:
            lines[at] = lines[at] + "  " + comment
        else:
            lines.insert(at, comment)
    source = "\n".join(lines)
    once = format_checked(source, "k.rules")
    assert once == format_checked(once, "k.rules")
    assert sorted(c.text for c in parse(source).comments) == sorted(c.text for c in parse(once).comments)


@settings(max_examples=50)  # four parses per example
@given(strategies.source_files(), st.lists(st.tuples(st.integers(0, 10**6), st.booleans()), max_size=8))
def test_comments_added_to_random_trees_are_kept_and_settle(
    tree: SourceFile, edits: list[tuple[int, bool]]
) -> None:
    """Own-line and trailing comments added anywhere in any formatted tree survive, and formatting settles."""
    lines = format_source(tree).split("\n")
    for i, (at, trailing) in enumerate(edits):
        at %= len(lines)
        if trailing and lines[at].strip():
            lines[at] += f"  # t{i}"
        else:
            lines.insert(at, f"# o{i}")
    once = format_checked("\n".join(lines), tree.path)
    assert once == format_checked(once, tree.path)
