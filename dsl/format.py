"""AST + comments → canonical ruleset text (``thidua fmt``), and expressions → text.

This module owns the one canonical layout of a ruleset file (docs/formatting.md)
and `format_expr`, the printer other stages use to show an expression as it was
written (explanations, diffs). Printing never decides meaning: parentheses are
exactly those the grammar needs to rebuild the same tree, literals keep the text
the author wrote (``70%`` stays ``70%``), and every comment is put back.
"""

from __future__ import annotations

from dsl import nodes as n
from dsl.errors import RulesetError, ThiduaError
from dsl.format_comments import Anchor, Key, place_comments
from dsl.parser import parse

# Binding strength, loosest first; a child printed where the grammar expects at
# least ``need`` is parenthesized when its own strength is lower.
IF, OR, AND, NOT, CMP, SUM, PRODUCT, UNARY, ATOM = range(9)

_CMP_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_BINARY_PREC = {
    "or": OR,
    "and": AND,
    "+": SUM,
    "-": SUM,
    "*": PRODUCT,
    "/": PRODUCT,
    **{op: CMP for op in _CMP_OPS},
}


def precedence(expr: n.Expr) -> int:
    """How tightly ``expr`` binds when printed without parentheses."""
    if isinstance(expr, n.IfExpr):
        return IF
    if isinstance(expr, n.Binary):
        return _BINARY_PREC[expr.op]
    if isinstance(expr, n.Unary):
        return NOT if expr.op == "not" else UNARY
    if isinstance(expr, n.InList):
        return CMP
    if isinstance(expr, n.Number) and expr.text.startswith("-"):
        return UNARY  # only in `given`/`default` values, where the grammar allows a sign
    return ATOM


def _operand_needs(op: str) -> tuple[int, int]:
    """The least strength the grammar accepts on each side of a binary operator.

    Left-associative levels accept their own level on the left only;
    comparisons are non-associative (both sides are sums).
    """
    prec = _BINARY_PREC[op]
    if prec == CMP:
        return SUM, SUM
    return prec, prec + 1


def escape_string(value: str) -> str:
    """A string value as a quoted literal: ``\\``, ``"`` and newline escaped (SPEC §1.1)."""
    body = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


# ------------------------------------------------------------------ output


class _Line:
    """One output line; ``key`` names the item that starts on it (comments attach there)."""

    __slots__ = ("comment_indent", "indent", "key", "text")

    def __init__(self, indent: int, key: Key | None, comment_indent: int) -> None:
        self.indent = indent
        self.text = ""
        self.key = key
        self.comment_indent = comment_indent


class _Writer:
    """Collects output lines and the anchors (items with source spans) in print order."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.anchors: list[Anchor] = []
        self._stack: list[int] = []

    def line(self, indent: int, key: Key | None = None, comment_indent: int | None = None) -> None:
        self.lines.append(_Line(indent, key, indent if comment_indent is None else comment_indent))

    def put(self, text: str) -> None:
        self.lines[-1].text += text

    def blank(self) -> None:
        if self.lines and self.lines[-1].text:
            self.lines.append(_Line(0, None, 0))

    def begin(self, key: Key, span: n.Span | None, kind: str = "item", head_end: int | None = None) -> Key:
        """Open an anchor; everything registered until `end` is inside it."""
        if span is None or span.line <= 0:
            self._stack.append(-1)
            return key
        parent = next((i for i in reversed(self._stack) if i >= 0), None)
        index = len(self.anchors)
        anchor = Anchor(key, span, index, parent, kind)
        anchor.head_end = head_end
        self.anchors.append(anchor)
        if parent is not None and self.anchors[parent].first_child is None:
            self.anchors[parent].first_child = index
        self._stack.append(index)
        return key

    def end(self) -> None:
        self._stack.pop()

    def close(self, node: object, span: n.Span, indent: int, inner: int) -> None:
        """The ``}`` line of a block or table; comments before it stay inside (at ``inner``)."""
        key = self.begin(("close", id(node)), _end_span(span), "close")
        self.line(indent, key, inner)
        self.put("}")
        self.end()


def _key(node: object) -> Key:
    return ("node", id(node))


def _end_span(span: n.Span) -> n.Span:
    if span.line <= 0:
        return span
    col = max(1, span.end_column - 1)
    return n.Span(span.end_line, col, span.end_line, col + 1, span.file)


# -------------------------------------------------------------- expressions


class _Printer:
    """Writes expressions, declarations and files into a `_Writer`."""

    def __init__(self, writer: _Writer) -> None:
        self.w = writer

    # ---- expressions
    def expr(self, e: n.Expr, need: int, indent: int) -> None:
        """Print ``e`` where the grammar accepts strength ``need``; ``indent`` is the current line's."""
        if precedence(e) < need:
            self.w.put("(")
            self._expr(e, indent)
            self.w.put(")")
        else:
            self._expr(e, indent)

    def _list(self, items: tuple[n.Expr, ...], indent: int) -> None:
        for i, item in enumerate(items):
            if i:
                self.w.put(", ")
            self.expr(item, IF, indent)

    def _expr(self, e: n.Expr, indent: int) -> None:
        put = self.w.put
        if isinstance(e, n.Number):
            put(e.text)
        elif isinstance(e, n.DateLit):
            put(e.value.isoformat())
        elif isinstance(e, n.BoolLit):
            put("true" if e.value else "false")
        elif isinstance(e, n.StringLit):
            put(escape_string(e.value))
        elif isinstance(e, n.Name):
            put(e.id)
        elif isinstance(e, n.EnumValue):
            put(e.value)
        elif isinstance(e, n.FieldRef):
            put(e.name)
        elif isinstance(e, n.Attribute):
            put(f"{e.obj}.{e.attr}")
        elif isinstance(e, n.Unary):
            if e.op == "not":
                put("not ")
                self.expr(e.operand, NOT, indent)
            else:
                put(e.op)
                self.expr(e.operand, UNARY, indent)
        elif isinstance(e, n.Binary):
            left, right = _operand_needs(e.op)
            self.expr(e.left, left, indent)
            put(f" {e.op} ")
            self.expr(e.right, right, indent)
        elif isinstance(e, n.InList):
            self.expr(e.operand, SUM, indent)
            put(" in [")
            self._list(e.options, indent)
            put("]")
        elif isinstance(e, n.IfExpr):
            # A nested `if` as condition or `then` branch is legal bare but unreadable.
            put("if ")
            self.expr(e.cond, OR, indent)
            put(" then ")
            self.expr(e.then, OR, indent)
            put(" else ")
            self.expr(e.otherwise, IF, indent)
        elif isinstance(e, n.Call):
            put(f"{e.func}(")
            self._list(e.args, indent)
            put(")")
        elif isinstance(e, n.ListAgg):
            put(f"{e.func}(")
            self.expr(e.source, IF, indent)
            if e.of is not None:
                put(" of ")
                self.expr(e.of, IF, indent)
            if e.where is not None:
                put(" where ")
                self.expr(e.where, IF, indent)
            put(")")
        elif isinstance(e, n.ListValue):
            put("[")
            self._list(e.items, indent)
            put("]")
        elif isinstance(e, n.RecordValue):
            if not e.fields:
                put("{}")
            else:
                put("{ ")
                for i, (name, value) in enumerate(e.fields):
                    if i:
                        put(", ")
                    put(f"{name} = ")
                    self.expr(value, IF, indent)
                put(" }")
        elif isinstance(e, n.Table):
            self._table(e, indent)
        else:  # pragma: no cover - every Expr kind is handled above
            raise TypeError(f"cannot format {type(e).__name__}")

    def _table(self, t: n.Table, indent: int) -> None:
        """A table always takes one line per row; the rest of the expression resumes after ``}``."""
        w = self.w
        w.put("table ")
        self.expr(t.subject, SUM, indent)
        w.put(" {")
        inner = indent + 2
        for row in t.rows:
            key = w.begin(_key(row), row.span)
            w.line(inner, key)
            w.put("when ")
            if row.op == "==" and len(row.values) == 1:
                self.expr(row.values[0], SUM, inner)
            elif row.op == "in":
                w.put("in [")
                self._list(row.values, inner)
                w.put("]")
            else:
                w.put(f"{row.op} ")
                self.expr(row.values[0], SUM, inner)
            w.put(" then ")
            self.expr(row.result, IF, inner)
            w.end()
        if t.default is not None:
            key = w.begin(("else", id(t)), t.default.span)
            w.line(inner, key)
            w.put("else ")
            self.expr(t.default, IF, inner)
            w.end()
        w.close(t, t.span, indent, inner)


def format_expr(expr: n.Expr) -> str:
    """An expression as ruleset text, with minimal parentheses.

    One line, except that a ``table`` takes one line per row (rows indented by
    two spaces relative to the line the table starts on). Works on checked
    trees too (`EnumValue`, `FieldRef` print as the bare name).
    """
    w = _Writer()
    w.line(0)
    _Printer(w).expr(expr, IF, 0)
    return "\n".join(" " * line.indent + line.text for line in w.lines)


# ------------------------------------------------------------- declarations

#: Labels line up in a column after the longest item of a run, unless an item's
#: text is longer than this — then that one label follows two spaces.
ALIGN_LIMIT = 50

#: Items of these kinds sit together without blank lines between them; every
#: other item (a block) is separated from its neighbours by a blank line.
_RUN_SECTIONS = {
    n.Description: "header",
    n.Effective: "header",
    n.Rounding: "header",
    n.Input: "input",
    n.Let: "let",
    n.ScoreDef: "score",
    n.Ranking: "ranking",
    n.Remove: "remove",
}


class _FilePrinter(_Printer):
    """Declarations, blocks and whole files."""

    def source_file(self, sf: n.SourceFile) -> None:
        if sf.ruleset is not None:
            self.ruleset(sf.ruleset)
        for test in sf.tests:
            self.w.blank()
            self.test(test, 0)

    def ruleset(self, r: n.Ruleset) -> None:
        w = self.w
        key = w.begin(_key(r), r.span, "block")
        w.line(0, key)
        w.put(f"ruleset {r.name} version {escape_string(r.version)}")
        if r.parent is not None:
            w.put(f" extends {r.parent.name} version {escape_string(r.parent.version)}")
        w.put(" {")
        previous: str | None = None
        items = list(r.items)
        i = 0
        while i < len(items):
            item = items[i]
            section = _RUN_SECTIONS.get(type(item), "block")
            if previous is not None and (section != previous or section == "block"):
                w.blank()
            previous = section
            if isinstance(item, n.Input):
                run: list[n.Input] = []
                while i < len(items) and isinstance(items[i], n.Input):
                    run.append(items[i])  # type: ignore[arg-type]
                    i += 1
                self.inputs(run, 2)
                continue
            self.item(item, 2)
            i += 1
        w.close(r, r.span, 0, 2)
        w.end()

    def _simple(self, node: n.Item, indent: int, text: str) -> None:
        key = self.w.begin(_key(node), node.span)
        self.w.line(indent, key)
        self.w.put(text)
        self.w.end()

    def item(self, item: n.Item, indent: int) -> None:
        w = self.w
        if isinstance(item, n.Description):
            self._simple(item, indent, f"description {escape_string(item.text)}")
        elif isinstance(item, n.Effective):
            self._simple(item, indent, f"effective {item.start.isoformat()} to {item.end.isoformat()}")
        elif isinstance(item, n.Rounding):
            self._simple(item, indent, f"rounding {item.places} {item.mode}")
        elif isinstance(item, n.Remove):
            self._simple(item, indent, f"remove {item.kind} {item.name}")
        elif isinstance(item, n.Input):
            self.inputs([item], indent)
        elif isinstance(item, n.Let):
            key = w.begin(_key(item), item.span)
            w.line(indent, key)
            w.put(f"let {item.name}")
            self.assigned(item.expr, indent)
            w.end()
        elif isinstance(item, n.ScoreDef):
            key = w.begin(_key(item), item.span)
            w.line(indent, key)
            w.put("score")
            self.assigned(item.expr, indent)
            w.end()
        elif isinstance(item, n.Group):
            self.block(item, indent, f"group {item.name} {escape_string(item.label)} max {item.max.text}")
        elif isinstance(item, n.Bonus):
            self.block(item, indent, f"bonus {escape_string(item.label)} max {item.max.text}")
        elif isinstance(item, n.Penalty):
            cap = f" max {item.max.text}" if item.max is not None else ""
            self.block(item, indent, f"penalty {escape_string(item.label)}{cap}")
        elif isinstance(item, n.Classify):
            self.classify(item, indent)
        elif isinstance(item, n.Ranking):
            key = w.begin(_key(item), item.span)
            w.line(indent, key)
            w.put("ranking by ")
            self.sort_keys(item.keys, indent)
            w.end()
        elif isinstance(item, n.Title):
            self.title(item, indent)
        elif isinstance(item, n.Rotation):
            self.rotation(item, indent)
        elif isinstance(item, n.Test):
            self.test(item, indent)
        else:  # pragma: no cover - every Item kind is handled above
            raise TypeError(f"cannot format {type(item).__name__}")

    def assigned(self, expr: n.Expr, indent: int) -> None:
        """`` = EXPR``; a table that is the whole expression starts on its own line."""
        if isinstance(expr, n.Table):
            self.w.put(" =")
            self.w.line(indent + 2)
            self.expr(expr, IF, indent + 2)
        else:
            self.w.put(" = ")
            self.expr(expr, IF, indent)

    def _labelled(self, rows: list[tuple[int, int, str | None]]) -> None:
        """Append each row's label (line range first..last) aligned in one column."""
        lines = self.w.lines
        widths = [
            len(lines[first].text) for first, last, label in rows if first == last and label is not None
        ]
        fitting = [width for width in widths if width <= ALIGN_LIMIT]
        column = max(fitting) + 2 if fitting else 0
        for first, last, label in rows:
            if label is None:
                continue
            line = lines[last]
            width = len(line.text)
            pad = column - width if first == last and width <= ALIGN_LIMIT else 2
            line.text += " " * pad + escape_string(label)

    def inputs(self, run: list[n.Input], indent: int) -> None:
        w = self.w
        rows: list[tuple[int, int, str | None]] = []
        for inp in run:
            key = w.begin(_key(inp), inp.span)
            w.line(indent, key)
            first = len(w.lines) - 1
            w.put(f"input {inp.name}: ")
            self.type_expr(inp.type)
            c = inp.constraint
            if c is not None:
                if c.op == "in" and c.high is not None:
                    w.put(" in ")
                    self.expr(c.low, SUM, indent)
                    w.put("..")
                    self.expr(c.high, SUM, indent)
                else:
                    w.put(f" {c.op} ")
                    self.expr(c.low, SUM, indent)
            if inp.default is not None:
                w.put(" default ")
                self.expr(inp.default, IF, indent)
            if inp.better is not None:
                w.put(f" {inp.better} is better")
            w.end()
            rows.append((first, len(w.lines) - 1, inp.label))
        self._labelled(rows)

    def type_expr(self, t: n.TypeExpr) -> None:
        w = self.w
        if isinstance(t, n.SimpleType):
            w.put(t.name)
        elif isinstance(t, n.EnumType):
            w.put(f"enum({', '.join(t.values)})")
        else:
            w.put("list of { ")
            for i, f in enumerate(t.fields):
                if i:
                    w.put(", ")
                w.put(f"{f.name}: ")
                self.type_expr(f.type)
            w.put(" }")

    def criterion(self, c: n.Criterion, indent: int) -> None:
        w = self.w
        key = w.begin(_key(c), c.span)
        w.line(indent, key)
        w.put(f"criterion {c.name} {escape_string(c.label)}")
        if c.max is not None:
            w.put(f" max {c.max.text}")
        self.assigned(c.expr, indent)
        w.end()

    def block(self, node: n.Group | n.Bonus | n.Penalty, indent: int, head: str) -> None:
        w = self.w
        key = w.begin(_key(node), node.span, "block")
        w.line(indent, key)
        w.put(head + " {")
        for c in node.criteria:
            self.criterion(c, indent + 2)
        w.close(node, node.span, indent, indent + 2)
        w.end()

    def classify(self, cl: n.Classify, indent: int) -> None:
        w = self.w
        key = w.begin(_key(cl), cl.span, "block")
        w.line(indent, key)
        w.put("classify {")
        inner = indent + 2
        for level in cl.levels:
            lkey = w.begin(_key(level), level.span)
            w.line(inner, lkey)
            w.put(f"level {level.name} {escape_string(level.label)}")
            if level.when is None:
                w.put(" otherwise")
            else:
                w.put(" when ")
                self.expr(level.when, IF, inner)
                if level.unless is not None:
                    w.put(" unless ")
                    self.expr(level.unless, IF, inner)
            w.end()
        w.close(cl, cl.span, indent, inner)
        w.end()

    def sort_keys(self, keys: tuple[n.SortKey, ...], indent: int) -> None:
        for i, k in enumerate(keys):
            if i:
                self.w.put(", ")
            self.expr(k.expr, IF, indent)
            self.w.put(" desc" if k.descending else " asc")

    def title(self, t: n.Title, indent: int) -> None:
        w = self.w
        key = w.begin(_key(t), t.span, "block")
        w.line(indent, key)
        w.put(f"title {t.name} {escape_string(t.label)} {{")
        inner = indent + 2
        rows: list[tuple[int, int, str | None]] = []
        for req in t.requires:
            rkey = w.begin(_key(req), req.span)
            w.line(inner, rkey)
            first = len(w.lines) - 1
            w.put("require ")
            self.expr(req.expr, IF, inner)
            w.end()
            rows.append((first, len(w.lines) - 1, req.reason))
        self._labelled(rows)
        if t.quota is not None:
            self._simple_quota(t.quota, inner)
        if t.rank_by:
            span = _covering(t.rank_by[0].span, t.rank_by[-1].span)
            rkey = w.begin(("rank_by", id(t)), span)
            w.line(inner, rkey)
            w.put("rank by ")
            self.sort_keys(t.rank_by, inner)
            w.end()
        w.close(t, t.span, indent, inner)
        w.end()

    def _simple_quota(self, q: n.Quota, indent: int) -> None:
        key = self.w.begin(_key(q), q.span)
        self.w.line(indent, key)
        self.w.put(f"quota {q.text}")
        self.w.end()

    def rotation(self, rot: n.Rotation, indent: int) -> None:
        w = self.w
        key = w.begin(_key(rot), rot.span, "block")
        w.line(indent, key)
        w.put("rotation {")
        inner = indent + 2
        for rule in rot.rules:
            head_end = rule.picks[0].span.end_line if rule.picks else None
            rkey = w.begin(_key(rule), rule.span, "rule", head_end)
            w.line(inner, rkey)
            w.put(f"{rule.role} = ")
            # `else` lines up under the first alternative: one alternative per line.
            cont = inner + len(rule.role) + 3
            for i, pick in enumerate(rule.picks):
                if i:
                    pkey = w.begin(_key(pick), pick.span)
                    w.line(cont, pkey)
                    w.put("else ")
                self.pick(pick, cont if i else inner)
                if i:
                    w.end()
            w.end()
        w.close(rot, rot.span, indent, inner)
        w.end()

    def pick(self, p: n.Pick, indent: int) -> None:
        w = self.w
        if isinstance(p, n.RefPick):
            w.put(f"{p.scope}.{p.role}")
            return
        if isinstance(p, n.NextAfterPick):
            w.put("next after ")
            self.expr(p.anchor, SUM, indent)
        else:
            w.put(f"first of {p.source}")
        if p.where is not None:
            w.put(" where ")
            self.expr(p.where, IF, indent)

    def test(self, t: n.Test, indent: int) -> None:
        w = self.w
        key = w.begin(_key(t), t.span, "block")
        w.line(indent, key)
        w.put(f"test {escape_string(t.label)}")
        if t.target is not None:
            w.put(f" for {t.target[0]} version {escape_string(t.target[1])}")
        w.put(" {")
        inner = indent + 2
        if t.given:
            w.line(inner)
            w.put("given {")
            for g in t.given:
                gkey = w.begin(_key(g), g.span)
                w.line(inner + 2, gkey)
                w.put(f"{g.name} = ")
                self.expr(g.value, IF, inner + 2)
                w.end()
            w.line(inner)
            w.put("}")
        for e in t.expects:
            ekey = w.begin(_key(e), e.span)
            w.line(inner, ekey)
            w.put("expect ")
            self.expr(e.expr, IF, inner)
            w.end()
        w.close(t, t.span, indent, inner)
        w.end()


def _covering(first: n.Span, last: n.Span) -> n.Span:
    if first.line <= 0 or last.line <= 0:
        return n.NO_SPAN
    return n.Span(first.line, first.column, last.end_line, last.end_column, first.file)


# ------------------------------------------------------------------ files


def format_source(sf: n.SourceFile) -> str:
    """A parsed file in canonical layout, comments included; ends with a newline unless empty."""
    w = _Writer()
    _FilePrinter(w).source_file(sf)
    placed = place_comments(sf.comments, w.anchors, sf.source)
    out: list[str] = []
    used: set[Key] = set()
    for line in w.lines:
        if line.key is not None:
            used.add(line.key)
            for c in placed.leading.get(line.key, ()):
                out.append(" " * line.comment_indent + c.text)
        text = " " * line.indent + line.text if line.text else ""
        trailing = placed.trailing.get(line.key) if line.key is not None else None
        if trailing is not None:
            text += "  " + trailing.text
        out.append(text)
    # Never drop a comment, even one whose item somehow printed no line of its own.
    orphans = [c for key, cs in placed.leading.items() if key not in used for c in cs]
    orphans += [c for key, c in placed.trailing.items() if key not in used]
    out.extend(c.text for c in sorted([*orphans, *placed.eof], key=lambda c: (c.line, c.column)))
    return "\n".join(out) + "\n" if out else ""


class FormatError(ThiduaError):
    """The formatter would have changed a file's meaning or lost a comment (a bug; nothing is written)."""


def format_text(text: str, path: str = "<string>") -> str:
    """Parse ``text`` and return it in canonical layout; raises `RulesetError` on syntax errors."""
    return format_source(parse(text, path))


def format_checked(text: str, path: str = "<string>") -> str:
    """Like `format_text`, but proves the result parses to the same tree with the same comments.

    Raises `FormatError` rather than return text that would change the ruleset's meaning.
    """
    before = parse(text, path)
    result = format_source(before)
    try:
        after = parse(result, path)
    except RulesetError as exc:
        raise FormatError(
            f"{path}: internal formatter error: the formatted text does not parse ({exc}); file left unchanged"
        ) from None
    if after != before:
        raise FormatError(
            f"{path}: internal formatter error: the formatted text means something else; file left unchanged"
        )
    if sorted(c.text for c in after.comments) != sorted(c.text for c in before.comments):
        raise FormatError(f"{path}: internal formatter error: a comment would be lost; file left unchanged")
    return result
