"""AST + comments → canonical ruleset text (``thidua fmt``), and expressions → text.

This module owns the one canonical layout of a ruleset file (docs/formatting.md)
and `format_expr`, the printer other stages use to show an expression as it was
written (explanations, diffs). Printing never decides meaning: parentheses are
exactly those the grammar needs to rebuild the same tree, literals keep the text
the author wrote (``70%`` stays ``70%``), and every comment is put back.
"""

from __future__ import annotations

from dsl import nodes as n

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


Key = tuple[str, int]


class _Line:
    """One output line; ``key`` names the item that starts on it (comments attach there)."""

    __slots__ = ("comment_indent", "indent", "key", "text")

    def __init__(self, indent: int, key: Key | None, comment_indent: int) -> None:
        self.indent = indent
        self.text = ""
        self.key = key
        self.comment_indent = comment_indent


class _Anchor:
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


class _Writer:
    """Collects output lines and the anchors (items with source spans) in print order."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.anchors: list[_Anchor] = []
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
        anchor = _Anchor(key, span, index, parent, kind)
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
