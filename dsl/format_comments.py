"""Which item each comment of a ruleset file belongs to, for the formatter (`dsl.format`).

This module owns comment placement: given the comments the parser collected
(line, column) and the items the formatter printed (anchors, with their
source spans, in print order), it decides for each comment whether it is
printed before an item, at the end of an item's first line, or at the end of
the file. The rules are in docs/formatting.md ("Comments"); the point of
them is that no comment is ever lost and that formatting twice gives the same
text.
"""

from __future__ import annotations

import bisect

from dsl import nodes as n

#: Identifies one printed item: (kind, id of its node) — kind is "node", or "close"/"else"/"rank_by"
#: for the parts of a node that get a line of their own.
Key = tuple[str, int]


class Anchor:
    """A source item comments can attach to: where it was, and where it sits in the tree."""

    __slots__ = ("column", "end", "first_child", "head_end", "key", "kind", "order", "parent", "start")

    def __init__(self, key: Key, span: n.Span, order: int, parent: int | None, kind: str) -> None:
        self.key = key
        self.start = span.line
        self.column = span.column
        self.end = span.end_line
        self.order = order
        self.parent = parent
        self.kind = kind
        self.first_child: int | None = None
        self.head_end: int | None = None


class Placement:
    """Where each comment goes: before an item, at the end of its first line, or at the end."""

    def __init__(self) -> None:
        self.leading: dict[Key, list[n.Comment]] = {}
        self.trailing: dict[Key, n.Comment] = {}
        self.eof: list[n.Comment] = []

    def lead(self, anchor: Anchor | None, comment: n.Comment) -> None:
        if anchor is None:
            self.eof.append(comment)
        else:
            self.leading.setdefault(anchor.key, []).append(comment)


class _SourceIndex:
    """Positions in the original text: which lines hold code before a comment, where blocks open."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.split("\n")
        self.offsets: list[int] = []
        pos = 0
        for line in self.lines:
            self.offsets.append(pos)
            pos += len(line) + 1

    def code_before(self, comment: n.Comment) -> bool:
        if not 1 <= comment.line <= len(self.lines):
            return False
        return bool(self.lines[comment.line - 1][: comment.column - 1].strip())

    def brace_line(self, line: int, column: int) -> int | None:
        """The line of the first ``{`` at or after (line, column), outside texts and comments."""
        if not 1 <= line <= len(self.lines):
            return None
        src = self.source
        i = self.offsets[line - 1] + column - 1
        in_string = False
        while i < len(src):
            c = src[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"' or c == "\n":
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "#":
                nl = src.find("\n", i)
                if nl < 0:
                    return None
                i = nl
                continue
            elif c == "{":
                return src.count("\n", 0, i) + 1
            i += 1
        return None


def place_comments(comments: tuple[n.Comment, ...], anchors: list[Anchor], source: str) -> Placement:
    """Decide, for every comment, the item it belongs to (docs/formatting.md, "Comments")."""
    placed = Placement()
    if not comments:
        return placed
    index = _SourceIndex(source)
    ordered = sorted(anchors, key=lambda a: (a.start, a.column, a.order))
    positions = [(a.start, a.column) for a in ordered]
    starts = [a.start for a in ordered]

    def head_end(a: Anchor) -> int:
        if a.head_end is None:
            a.head_end = index.brace_line(a.start, a.column) or a.start
        return a.head_end

    def containing(line: int, before: int) -> Anchor | None:
        """The innermost anchor that starts before ``before`` and spans ``line``."""
        i = bisect.bisect_left(positions, (before, 0)) - 1
        a = ordered[i] if i >= 0 else None
        while a is not None and a.end < line:
            a = anchors[a.parent] if a.parent is not None else None
        return a

    def next_after(line: int) -> Anchor | None:
        i = bisect.bisect_right(starts, line)
        return ordered[i] if i < len(ordered) else None

    for comment in sorted(comments, key=lambda c: (c.line, c.column)):
        line = comment.line
        if not index.code_before(comment):
            outer = containing(line, line)
            if outer is None:
                placed.lead(next_after(line), comment)
            elif outer.first_child is None or line <= head_end(outer):
                placed.lead(outer, comment)
            else:
                follower = next_after(line)
                placed.lead(
                    follower if follower is not None and follower.start <= outer.end else outer, comment
                )
            continue
        i = bisect.bisect_left(positions, (line, comment.column)) - 1
        if i < 0:
            placed.lead(next_after(line), comment)
            continue
        owner = ordered[i]
        if owner.end < line:
            # Code on this line belongs to an enclosing item that continues after ``owner``.
            outer = containing(line, line + 1)
            placed.lead(outer if outer is not None else owner, comment)
            continue
        if owner.first_child is None:
            on_own_line = owner.end == line
        else:
            on_own_line = line <= head_end(owner)
        if on_own_line and owner.key not in placed.trailing:
            placed.trailing[owner.key] = comment
        else:
            placed.lead(owner, comment)
    return placed
